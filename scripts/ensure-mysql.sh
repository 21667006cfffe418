#!/usr/bin/env bash
# Make sure a MariaDB/MySQL server answers on $MYSQL_HOST:$MYSQL_PORT (default 127.0.0.1:3306, root,
# no password), as the benchmarks expect, then that the test suite's TLS-only server runs beside it
# (scripts/tls-mysql.sh). Starts an installed server, or installs MariaDB from the distribution when
# there is none.
set -euo pipefail
HOST=${MYSQL_HOST:-127.0.0.1}
PORT=${MYSQL_PORT:-3306}

answers() { python3 - "$HOST" "$PORT" <<'PY'
import socket, sys
s = socket.socket(); s.settimeout(1)
try:
    s.connect((sys.argv[1], int(sys.argv[2]))); print("ok")
except OSError:
    sys.exit(1)
PY
}

wait_for_server() {
  for _ in $(seq 1 60); do answers >/dev/null 2>&1 && return 0; sleep 0.5; done
  return 1
}

if answers >/dev/null 2>&1; then exec "$(dirname "$0")/tls-mysql.sh"; fi
SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
if ! command -v mariadbd >/dev/null 2>&1 && [ ! -x /usr/sbin/mariadbd ] && [ ! -x /usr/sbin/mysqld ]; then
  echo "ensure-mysql: no MySQL-compatible server installed; installing mariadb-server" >&2
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq mariadb-server >/dev/null
fi
echo "ensure-mysql: starting MariaDB" >&2
if [ -x /usr/sbin/mariadbd ]; then
  $SUDO mkdir -p /run/mysqld && $SUDO chown mysql:mysql /run/mysqld 2>/dev/null || true
  $SUDO start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd -- --user=mysql
else
  $SUDO service mysql start || $SUDO service mariadb start
fi
wait_for_server || { echo "ensure-mysql: server did not come up on $HOST:$PORT" >&2; exit 1; }
# A fresh Debian install authenticates root by socket; the suite connects over TCP with no password.
$SUDO mariadb -uroot -e "ALTER USER 'root'@'localhost' IDENTIFIED VIA mysql_native_password USING PASSWORD(''); FLUSH PRIVILEGES;" 2>/dev/null || true
exec "$(dirname "$0")/tls-mysql.sh"
