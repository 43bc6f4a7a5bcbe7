#!/usr/bin/env bash
# Makes this machine ready for `cargo test --workspace`: installs what the tests need (Debian
# packages, as root or through sudo), configures the servers the way the tests log in, starts
# them, waits until each answers, and creates the Python venv of independent readers under
# target/. Safe to run again: it only does what is missing. Fails naming what did not come up.
#
# Servers: DATASYNC_TEST_MYSQL (default mysql://root@127.0.0.1:3306) and DATASYNC_TEST_POSTGRES
# (default postgres://postgres@127.0.0.1:5432). When a variable points anywhere but the default,
# that server is yours: it is not installed or started here, only waited for.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '== setup: %s\n' "$*" >&2; }
die() { printf '== setup: FAILED: %s\n' "$*" >&2; exit 1; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"
  elif command -v sudo >/dev/null; then sudo "$@"
  else die "'$*' needs root (run this script as root, or install sudo)"
  fi
}

mysql_url=${DATASYNC_TEST_MYSQL:-mysql://root@127.0.0.1:3306}
pg_url=${DATASYNC_TEST_POSTGRES:-postgres://postgres@127.0.0.1:5432}
local_mysql=false; [ "$mysql_url" = mysql://root@127.0.0.1:3306 ] && local_mysql=true
local_pg=false; [ "$pg_url" = postgres://postgres@127.0.0.1:5432 ] && local_pg=true

# scheme://user[:password]@host:port -> "user password host port"
split_url() {
  local rest=${1#*://} cred hostport user pass=
  cred=${rest%%@*}; hostport=${rest#*@}; hostport=${hostport%%/*}
  user=${cred%%:*}; [ "$cred" != "$user" ] && pass=${cred#*:}
  [ -n "$user" ] && [ "$hostport" != "${hostport%:*}" ] || die "bad server URL '${1%%@*}@…': expected scheme://user[:password]@host:port"
  printf '%s %s %s %s\n' "$user" "${pass:--}" "${hostport%:*}" "${hostport##*:}"
}
read -r my_user my_pass my_host my_port <<<"$(split_url "$mysql_url")"
read -r pg_user pg_pass pg_host pg_port <<<"$(split_url "$pg_url")"
[ "$my_pass" = - ] && my_pass=
[ "$pg_pass" = - ] && pg_pass=

# ---- packages --------------------------------------------------------------------------------
need=()
have_cmd() { command -v "$1" >/dev/null 2>&1; }
have_cmd mariadb || need+=(mariadb-client)
$local_mysql && { have_cmd mariadbd || [ -x /usr/sbin/mariadbd ] || need+=(mariadb-server); }
# The TLS and fault tests start scratch MariaDB servers of their own.
have_cmd mariadb-install-db || need+=(mariadb-server)
have_cmd psql || need+=(postgresql-client)
$local_pg && { have_cmd pg_ctlcluster || need+=(postgresql); }
[ -x /usr/sbin/sshd ] || need+=(openssh-server)
have_cmd ssh-keygen || need+=(openssh-client)
have_cmd javac || need+=(default-jdk-headless)
have_cmd openssl || need+=(openssl)
have_cmd gzip || need+=(gzip)
have_cmd lzop || need+=(lzop)
have_cmd mkfifo || need+=(coreutils)
# The Slurm test runs a single-node Slurm (slurmctld, slurmd, munge) on loopback; gcc builds
# the shim that binds its listeners to 127.0.0.1.
have_cmd slurmctld || need+=(slurmctld)
have_cmd slurmd || need+=(slurmd)
have_cmd sbatch || need+=(slurm-client)
have_cmd munged || need+=(munge)
have_cmd gcc || need+=(gcc libc6-dev)
# The Pushgateway the metrics test pushes to (started by the test on a loopback port).
have_cmd prometheus-pushgateway || need+=(prometheus-pushgateway)
# python3-venv (ensurepip) is a separate package on Debian: ask for it whenever python3 is
# missing too, or a fresh machine gets python3 without it and `python3 -m venv` fails below.
if ! have_cmd python3 || ! python3 -c 'import ensurepip, venv' >/dev/null 2>&1; then need+=(python3 python3-venv); fi
if [ ${#need[@]} -gt 0 ]; then
  # Sorted and unique: mariadb-server may be asked for twice.
  mapfile -t need < <(printf '%s\n' "${need[@]}" | sort -u)
  log "installing ${need[*]}"
  have_cmd apt-get || die "apt-get not found: install ${need[*]} by hand (see README, Tests)"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  # Package scripts must not try to start services through an init system that may be absent.
  as_root env DEBIAN_FRONTEND=noninteractive RUNLEVEL=1 \
    apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

# ---- MariaDB ---------------------------------------------------------------------------------
my() { MYSQL_PWD=$my_pass mariadb --protocol=tcp -h "$my_host" -P "$my_port" -u "$my_user" -N -B "$@"; }
if $local_mysql && ! my -e 'SELECT 1' >/dev/null 2>&1; then
  if ! as_root mariadb-admin ping >/dev/null 2>&1; then
    log "starting MariaDB"
    as_root install -d -o mysql -g mysql /run/mysqld /var/log/mysql
    if [ ! -d /var/lib/mysql/mysql ]; then
      as_root mariadb-install-db --user=mysql --datadir=/var/lib/mysql >/dev/null
    fi
    # --pidfile: match only our server, not any process running /usr/sbin/mariadbd (another
    # container's or chroot's). --log-error: --background sends stderr to /dev/null.
    as_root start-stop-daemon --start --oknodo --background --pidfile /run/mysqld/mysqld.pid \
      --exec /usr/sbin/mariadbd -- --user=mysql --bind-address=127.0.0.1 --port=3306 \
      --local-infile=1 --pid-file=/run/mysqld/mysqld.pid --log-error=/var/log/mysql/error.log
    for _ in $(seq 1 60); do as_root mariadb-admin ping >/dev/null 2>&1 && break; sleep 1; done
  fi
  as_root mariadb-admin ping >/dev/null 2>&1 \
    || die "MariaDB did not start: $(as_root tail -n 2 /var/log/mysql/error.log 2>/dev/null | tr '\n' ' ')(/var/log/mysql/error.log)"
  log "MariaDB: root without a password on 127.0.0.1"
  # Root through the socket (unix_socket auth as root) grants what the tests log in with.
  as_root mariadb -u root -e "
    CREATE USER IF NOT EXISTS 'root'@'127.0.0.1' IDENTIFIED BY '';
    ALTER USER 'root'@'127.0.0.1' IDENTIFIED BY '';
    GRANT ALL PRIVILEGES ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION;
    ALTER USER 'root'@'localhost' IDENTIFIED VIA mysql_native_password USING PASSWORD('') OR unix_socket;
    SET GLOBAL local_infile = 1;
    FLUSH PRIVILEGES;" || die "MariaDB: cannot configure root for 127.0.0.1"
fi
ok=false
for _ in $(seq 1 30); do my -e 'SELECT 1' >/dev/null 2>&1 && { ok=true; break; }; sleep 1; done
$ok || die "MariaDB at $my_host:$my_port does not answer for user '$my_user': $(my -e 'SELECT 1' 2>&1 | head -1)"
[ "$(my -e 'SELECT @@local_infile')" = 1 ] || die "MariaDB at $my_host:$my_port: local_infile is off (the writer uses LOAD DATA LOCAL INFILE)"
log "MariaDB at $my_host:$my_port answers ($(my -e 'SELECT VERSION()'))"

# ---- PostgreSQL ------------------------------------------------------------------------------
pg() { PGPASSWORD=$pg_pass psql -h "$pg_host" -p "$pg_port" -U "$pg_user" -d postgres -qAtX "$@"; }
if $local_pg && ! pg -c 'SELECT 1' >/dev/null 2>&1; then
  ver=
  [ -d /etc/postgresql ] && ver=$(ls /etc/postgresql | sort -V | tail -n1)
  [ -n "$ver" ] || die "PostgreSQL is installed but has no cluster under /etc/postgresql"
  hba=/etc/postgresql/$ver/main/pg_hba.conf
  if ! as_root grep -Eq '^host[[:space:]]+all[[:space:]]+all[[:space:]]+127\.0\.0\.1/32[[:space:]]+trust' "$hba"; then
    log "PostgreSQL: trust on 127.0.0.1 ($hba)"
    as_root sed -i '1i host all all 127.0.0.1/32 trust' "$hba"
  fi
  if pg_lsclusters -h 2>/dev/null | awk -v v="$ver" '$1==v && $2=="main" {print $4}' | grep -q online; then
    as_root pg_ctlcluster --skip-systemctl-redirect "$ver" main reload
  else
    log "starting PostgreSQL $ver"
    as_root pg_ctlcluster --skip-systemctl-redirect "$ver" main start \
      || die "PostgreSQL $ver/main did not start (see /var/log/postgresql/postgresql-$ver-main.log)"
  fi
fi
ok=false
for _ in $(seq 1 30); do pg -c 'SELECT 1' >/dev/null 2>&1 && { ok=true; break; }; sleep 1; done
$ok || die "PostgreSQL at $pg_host:$pg_port does not answer for user '$pg_user': $(pg -c 'SELECT 1' 2>&1 | head -1)"
[ "$(pg -c 'SELECT rolsuper FROM pg_roles WHERE rolname = current_user')" = t ] \
  || die "PostgreSQL at $pg_host:$pg_port: '$pg_user' must be a superuser (the tests create databases and roles)"
log "PostgreSQL at $pg_host:$pg_port answers ($(pg -c 'SHOW server_version'))"

# ---- Java (the Hive Metastore of the Parquet tests runs on it) -------------------------------
jv=$(javac -version 2>&1 | awk '{print $2}' | cut -d. -f1)
[ "${jv:-0}" -ge 17 ] || die "javac ${jv:-?} found; the Hive Metastore tests need Java 17 or newer"

# ---- Python venv of independent readers ------------------------------------------------------
# pyarrow and DuckDB read back what we write; pyspark's jars hold the Hive Metastore and Spark
# SQL; PyYAML reads docker/compose.yml; python-snappy reads Hadoop's snappy stream; pyftpdlib
# is the FTP server of the FTP tests (pyOpenSSL for its FTPS); kubernetes' models check the
# manifests `datasync submit k8s` prints; python-oracledb (thin mode) checks the live Oracle suite;
# thriftpy2 serves the HBase test gateway (tests/hbase) and happybase checks it and our output;
# prometheus_client parses the metrics we write and push; openlineage-python's models check our
# lineage events; jsonschema checks jobs and templates against `datasync schema`. Versions are pinned; the venv is reused between runs.
# pinned_venv DIR IMPORTS PIN...: (re)creates the venv DIR with exactly PIN... (reused while
# its .pins stamp matches), then checks that its python imports IMPORTS.
pinned_venv() {
  local dir=$1 imports=$2
  shift 2
  if [ ! -x "$dir/bin/python" ] || [ "$(cat "$dir/.pins" 2>/dev/null)" != "$*" ]; then
    log "creating $dir ($*)"
    rm -rf "$dir"
    python3 -m venv "$dir" || die "python3 -m venv failed (Debian: apt-get install python3-venv)"
    "$dir/bin/pip" install -q --disable-pip-version-check "$@" || die "pip install $* failed"
    printf '%s' "$*" >"$dir/.pins"
  fi
  "$dir/bin/python" -c "import $imports" || die "$dir is broken: remove it and run again"
}
pinned_venv target/test-venv 'pyarrow, duckdb, pyspark, yaml, snappy, pyftpdlib, OpenSSL, kubernetes, oracledb, happybase, thriftpy2, prometheus_client, openlineage.client, jsonschema' \
  pyarrow==26.0.1 duckdb==2.0.0 pyspark==4.3.0 PyYAML==6.0.3 python-snappy==0.7.3 pyftpdlib==2.2.0 pyOpenSSL==26.4.0 kubernetes==37.0.2 oracledb==26.1.0 happybase==1.3.0 thriftpy2==0.7.1 prometheus_client==0.26.0 openlineage-python==1.54.0 jsonschema==4.26.0

# The S3 tests' venv (its own: moto's pins conflict with kubernetes' and openlineage's): moto's
# S3 backend is the server (tests/s3/server.py), boto3 (which moto brings) and pyarrow check
# what is on it.
pinned_venv target/s3-venv 'moto.server, boto3, werkzeug, pyarrow.fs' 'moto[server]==5.2.5' pyarrow==26.0.1

# ---- Apache Airflow (tests/airflow.rs runs DatasyncOperator in a DAG with dag.test()) -------
# A venv of its own: Airflow pins many packages of its own.
pinned_venv target/airflow-venv airflow.sdk apache-airflow==3.3.2

log "ready"
