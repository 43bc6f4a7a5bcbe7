#!/usr/bin/env bash
# SFTP benchmark against OpenSSH's sshd started here on a free 127.0.0.1 port (its own host key,
# a client key made for the run). A 1,000,000-row CSV (about 100 MB):
#   get: datasync sftp -> discard   vs  `sftp` get of the same file (to local disk)
#   put: datasync file -> sftp      vs  `sftp` put of the same file
# Each figure is the median of 3 runs, in MB/s of the CSV file, all in this one run.
# Usage: bench/sftp.sh [ROWS]
. "$(dirname "$0")/lib.sh"
ROWS=${1:-1000000}
bench_start sftpbench
mkdir -p /run/sshd "$WORK/remote" "$WORK/local"
ssh-keygen -q -t ed25519 -N '' -f "$WORK/host_key"
ssh-keygen -q -t ed25519 -N '' -f "$WORK/client_key"
cp "$WORK/client_key.pub" "$WORK/authorized_keys"
PORT=$(free_port)
cat > "$WORK/sshd_config" <<CFG
Port $PORT
ListenAddress 127.0.0.1
HostKey $WORK/host_key
PidFile $WORK/sshd.pid
AuthorizedKeysFile $WORK/authorized_keys
StrictModes no
UsePAM no
PermitRootLogin yes
Subsystem sftp internal-sftp
LogLevel ERROR
CFG
/usr/sbin/sshd -D -e -f "$WORK/sshd_config" 2>"$WORK/sshd.log" &
SSHD_PID=$!
at_exit 'kill "$SSHD_PID"'
for _ in $(seq 1 50); do (exec 3<>/dev/tcp/127.0.0.1/$PORT) 2>/dev/null && break; sleep 0.1; done
echo "[127.0.0.1]:$PORT $(cut -d' ' -f1,2 "$WORK/host_key.pub")" > "$WORK/known_hosts"

awk -v n="$ROWS" 'BEGIN { for (i = 1; i <= n; i++) printf "%d,customer-%d,%d.%02d,2024-01-01 %02d:%02d:%02d,note %d lorem ipsum dolor sit amet consectetur %d\n", i, i, i % 100000, i % 100, i % 24, i % 60, i % 60, i % 97, i * 7 }' > "$WORK/remote/data.csv"
cp "$WORK/remote/data.csv" "$WORK/local/data.csv"
BYTES=$(stat -c %s "$WORK/local/data.csv")

SFTP=(sftp -q -i "$WORK/client_key" -P "$PORT" -o "UserKnownHostsFile=$WORK/known_hosts" -o BatchMode=yes -b -)
CONN="\"protocol\": \"sftp\", \"host\": \"127.0.0.1\", \"port\": $PORT, \"username\": \"$(id -un)\", \"privateKey\": \"$WORK/client_key\", \"knownHostsFile\": \"$WORK/known_hosts\""
sftp_get() { rm -f "$WORK/got.csv"; echo "get $WORK/remote/data.csv $WORK/got.csv" | time_cmd "${SFTP[@]}" "$(id -un)@127.0.0.1"; }
sftp_put() { rm -rf "$WORK/remote/put"; mkdir -p "$WORK/remote/put"; echo "put $WORK/local/data.csv $WORK/remote/put/data.csv" | time_cmd "${SFTP[@]}" "$(id -un)@127.0.0.1"; }
ds_put() { rm -rf "$WORK/remote/ds"; run_ds 1 "{\"name\": \"file\", \"parameter\": {\"path\": \"$WORK/local/data.csv\", \"column\": [\"*\"]}}" \
  "{\"name\": \"sftp\", \"parameter\": {$CONN, \"path\": \"$WORK/remote/ds\", \"fileName\": \"data.csv\", \"writeMode\": \"truncate\"}}"; }

measure "ref: sftp get" sftp_get
cmp "$WORK/got.csv" "$WORK/remote/data.csv"
measure "datasync sftp -> discard" run_ds 1 "{\"name\": \"sftp\", \"parameter\": {$CONN, \"path\": [\"$WORK/remote/data.csv\"], \"column\": [\"*\"]}}" '{"name": "stream", "parameter": {}}'
measure "ref: sftp put" sftp_put
measure "datasync file -> sftp" ds_put
cmp "$WORK/local/data.csv" "$WORK/remote/ds/"data__*.csv

python3 - "$WORK/results" "$BYTES" <<'PY'
import sys
size = int(sys.argv[2]); res = [l.rstrip("\n").split("\t") for l in open(sys.argv[1])]
mbs = {k: size / float(v) / 1e6 for k, v in res}
print(f"file: {size / 1e6:.1f} MB")
print("| measurement (median of 3) | seconds | MB/s | vs reference |")
print("|---|---|---|---|")
for k, v in res:
    ref = mbs["ref: sftp get"] if ("get" in k or "discard" in k) else mbs["ref: sftp put"]
    print(f"| {k} | {float(v):.2f} | {mbs[k]:.0f} | {mbs[k] / ref:.2f}x |")
PY
echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB, $(ssh -V 2>&1), $(date -u +%Y-%m-%d)"
