#!/usr/bin/env bash
# The test suite's database server, configured like the one in AWS: a MariaDB of its own (own datadir,
# port and socket) that refuses plain connections (require_secure_transport=ON), presents a server
# certificate signed by a CA generated here on first run, and has the service's users:
#   root      socket only, for the OS user running this script (bootstrap) - the master user
#   hr_admin  TLS, schema changes on hr_% databases - the admin user (creates the per-run databases)
#   hr_app    TLS, data rights only, granted per database by the suite (chalicelib.db.users)
#   hr_master TLS, the rights of an RDS master user (users and grants): for the users' bootstrap test
# Idempotent: reuses a running server, restarts a stopped one, creates what is missing. The machine's
# shared server on 3306 is left alone. Prints nothing on success; the suite finds the CA under $DIR.
set -euo pipefail
DIR=${HR_TEST_MYSQL_DIR:-/var/tmp/hr-test-mysql}
PORT=${HR_TEST_MYSQL_PORT:-3307}
ADMIN_PASSWORD=${HR_TEST_ADMIN_PASSWORD:-hr-admin-test}
APP_PASSWORD=${HR_TEST_APP_PASSWORD:-hr-app-test}
MASTER_PASSWORD=${HR_TEST_MASTER_PASSWORD:-hr-master-test}
SOCKET="$DIR/mysqld.sock"
DATA="$DIR/data"
TLS="$DIR/tls"

find_binary() { for name in "$@"; do command -v "$name" 2>/dev/null && return 0; [ -x "/usr/sbin/$name" ] && { echo "/usr/sbin/$name"; return 0; }; done; return 1; }
MARIADBD=$(find_binary mariadbd mysqld) || { echo "tls-mysql: no mariadbd (run scripts/ensure-mysql.sh)" >&2; exit 1; }
INSTALL_DB=$(find_binary mariadb-install-db mysql_install_db) || { echo "tls-mysql: no mariadb-install-db" >&2; exit 1; }
CLIENT=$(find_binary mariadb mysql) || { echo "tls-mysql: no mariadb client" >&2; exit 1; }
RUN_AS=()
[ "$(id -u)" -eq 0 ] && RUN_AS=(--user=root)
OS_USER=$(id -un)
if ! command -v openssl >/dev/null 2>&1; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq openssl >/dev/null
fi

mkdir -p "$DIR" "$TLS"
exec 9>"$DIR/.lock"
flock 9  # two suites starting at once: one sets up, the other waits and reuses

# -- certificates: a CA, and a server certificate for 127.0.0.1 / localhost signed by it ----------------
if [ ! -s "$TLS/server.pem" ]; then
  openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=hr test CA" \
    -keyout "$TLS/ca-key.pem" -out "$TLS/ca.pem" 2>/dev/null
  openssl req -newkey rsa:2048 -nodes -subj "/CN=127.0.0.1" \
    -keyout "$TLS/server-key.pem" -out "$TLS/server.csr" 2>/dev/null
  printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n' >"$TLS/server.ext"
  openssl x509 -req -in "$TLS/server.csr" -CA "$TLS/ca.pem" -CAkey "$TLS/ca-key.pem" -CAcreateserial \
    -days 3650 -extfile "$TLS/server.ext" -out "$TLS/server.pem.new" 2>/dev/null
  mv "$TLS/server.pem.new" "$TLS/server.pem"
  chmod 644 "$TLS/ca.pem"
fi

# -- the server ----------------------------------------------------------------------------------------
# The master logs in by socket as the OS user that installed the datadir (root, or a developer's own user).
client() { "$CLIENT" --no-defaults --socket="$SOCKET" -u"$MASTER" "$@"; }
MASTER=$([ "$OS_USER" = root ] && echo root || echo "$OS_USER")
running() { client -e "SELECT 1" >/dev/null 2>&1; }

if ! running; then
  if [ ! -d "$DATA/mysql" ]; then
    rm -rf "$DATA"
    SOCKET_USER=()
    [ "$OS_USER" != root ] && SOCKET_USER=(--auth-root-socket-user="$OS_USER")
    "$INSTALL_DB" --no-defaults --datadir="$DATA" "${RUN_AS[@]}" --auth-root-authentication-method=socket \
      "${SOCKET_USER[@]}" --skip-test-db >"$DIR/install.log" 2>&1
  fi
  # Names are not resolved: install-db's anonymous ''@localhost would otherwise shadow 'hr_app'@'%'.
  setsid "$MARIADBD" --no-defaults "${RUN_AS[@]}" --datadir="$DATA" --port="$PORT" --bind-address=127.0.0.1 \
    --socket="$SOCKET" --pid-file="$DIR/mysqld.pid" --log-error="$DIR/error.log" --skip-name-resolve \
    --ssl-ca="$TLS/ca.pem" --ssl-cert="$TLS/server.pem" --ssl-key="$TLS/server-key.pem" \
    --require-secure-transport=ON --local-infile=ON --character-set-server=utf8mb4 \
    --collation-server=utf8mb4_general_ci --max-connections=500 --innodb-buffer-pool-size=256M \
    --innodb-flush-log-at-trx-commit=2 </dev/null >/dev/null 2>&1 9>&- &
  for _ in $(seq 1 120); do running && break; sleep 0.25; done
  running || { echo "tls-mysql: server did not start; see $DIR/error.log" >&2; tail -5 "$DIR/error.log" >&2; exit 1; }
fi

# -- users (REQUIRE SSL as well: the server-wide setting is not the only guard) -------------------------
client <<SQL
DELETE FROM mysql.global_priv WHERE User = '';
FLUSH PRIVILEGES;
CREATE USER IF NOT EXISTS 'hr_admin'@'%' IDENTIFIED BY '$ADMIN_PASSWORD' REQUIRE SSL;
ALTER USER 'hr_admin'@'%' IDENTIFIED BY '$ADMIN_PASSWORD' REQUIRE SSL;
GRANT ALL PRIVILEGES ON \`hr\_%\`.* TO 'hr_admin'@'%' WITH GRANT OPTION;
CREATE USER IF NOT EXISTS 'hr_app'@'%' IDENTIFIED BY '$APP_PASSWORD' REQUIRE SSL;
ALTER USER 'hr_app'@'%' IDENTIFIED BY '$APP_PASSWORD' REQUIRE SSL;
CREATE USER IF NOT EXISTS 'hr_master'@'%' IDENTIFIED BY '$MASTER_PASSWORD' REQUIRE SSL;
ALTER USER 'hr_master'@'%' IDENTIFIED BY '$MASTER_PASSWORD' REQUIRE SSL;
GRANT CREATE USER ON *.* TO 'hr_master'@'%' WITH GRANT OPTION;
GRANT ALL PRIVILEGES ON \`hr\_%\`.* TO 'hr_master'@'%' WITH GRANT OPTION;
SQL
