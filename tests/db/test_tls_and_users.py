"""The suite's server is like the one in AWS: TLS only, verified against its CA, and the app user has data
rights only. Database URLs name TLS and the CA, and nothing connects with unverified TLS."""

from __future__ import annotations

import ssl
from dataclasses import replace

import pymysql
import pytest

from chalicelib import db as databases
from chalicelib.rules.dictionary import DEPARTMENTS
from tests.conftest import TEST_CA, app_login, connect_as, server_login


def test_the_server_refuses_plain_connections(mysql_db, mysql_database):
    assert mysql_db.query("SELECT @@require_secure_transport")[0][0] == 1
    login = app_login(mysql_database)
    with pytest.raises(pymysql.err.OperationalError) as refused:
        pymysql.connect(host=login.host, port=login.port, user=login.user, password=login.password, ssl_disabled=True)
    assert refused.value.args[0] in (1045, 3159)  # access denied: the server requires secure transport
    with pytest.raises(databases.DatabaseUnavailable):
        databases.connect(replace(login, tls=False, ca=None).url()).counts()


def test_a_server_whose_certificate_the_ca_did_not_sign_is_refused(mysql_database, tmp_path):
    # The system's trust store does not hold the suite's CA: verification, not encryption alone, decides.
    untrusted = replace(app_login(mysql_database), ca=None)
    with pytest.raises(pymysql.err.OperationalError):
        connect_as(untrusted)
    with pytest.raises(databases.DatabaseUnavailable):
        databases.connect(untrusted.url()).counts()


def test_every_connection_of_the_app_user_is_verified_tls(mysql_db):
    status = dict(mysql_db.query("SHOW SESSION STATUS WHERE Variable_name IN ('Ssl_version', 'Ssl_cipher')"))
    assert status["Ssl_version"].startswith("TLSv1.") and status["Ssl_cipher"]
    assert mysql_db.query("SELECT CURRENT_USER()")[0][0].startswith("hr_app@")


def test_the_app_user_cannot_change_the_schema(mysql_db):
    for statement in ("DROP TABLE `departments`", "CREATE TABLE `t` (id INT)", "ALTER TABLE `jobs` ADD COLUMN x INT"):
        with pytest.raises(databases.DatabaseError, match="denied"):
            mysql_db.execute(statement)
    with pytest.raises(databases.DatabaseError, match="denied"):
        mysql_db.drop_schema()
    assert mysql_db.counts()["departments"] == 0


def test_the_app_user_does_data_work_and_the_restore_staging(mysql_db):
    with mysql_db.transaction():
        mysql_db.insert_rows(DEPARTMENTS, [(1, "Sales"), (2, "HR")])
    staging = mysql_db.create_staging(DEPARTMENTS)
    mysql_db.execute(f"INSERT INTO `{staging}` VALUES (3, 'Legal')")
    mysql_db.replace_from_staging(DEPARTMENTS, 1)
    mysql_db.drop_staging(DEPARTMENTS)
    assert mysql_db.query("SELECT id, department FROM `departments`") == [(3, "Legal")]


def test_the_admin_user_changes_the_schema(mysql_db, mysql_admin_url):
    admin = databases.connect(mysql_admin_url)
    try:
        admin.drop_schema()
        admin.create_schema()
        assert admin.query("SELECT CURRENT_USER()")[0][0].startswith("hr_admin@")
    finally:
        admin.close()


def test_urls_name_tls_and_the_ca():
    verified = databases.login_from_url("mysql://u:p%40ss@db.internal:3307/hr?ca=/etc/ca.pem")
    assert (verified.tls, verified.ca, verified.password) == (True, "/etc/ca.pem", "p@ss")
    assert databases.login_from_url(verified.url()) == verified
    assert databases.login_from_url("mysql://u@h/hr?tls=true").ca is None
    assert databases.login_from_url("mysql://u@h/hr").tls is False
    for bad in ("mysql://u@h/hr?ssl=1", "mysql://u@h/hr?tls=false&ca=/x.pem", "mysql://u@h/hr?tls=maybe"):
        with pytest.raises(databases.InvalidDatabaseUrl):
            databases.login_from_url(bad)


def test_tls_verifies_the_host_name_and_plain_means_no_tls_at_all():
    context = server_login("hr").ssl_context()
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    assert replace(server_login("hr"), tls=False).ssl_context() is None
    assert server_login("hr").ca == TEST_CA
