#!/usr/bin/env bash
# A one-node SLURM cluster on this machine, to run `snakemake --workflow-profile profiles/slurm`
# for real (README "Running on a cluster"; tests/test_slurm.py).
#
#   workflow/cluster/local-slurm.sh start    # install (apt, once) and start; idempotent
#   workflow/cluster/local-slurm.sh status   # which of its daemons run, and the node
#   workflow/cluster/local-slurm.sh stop     # cancel its jobs, stop exactly the daemons it started
#
# Needs root and Debian's packages (bookworm: Slurm 22.05). Daemons are started directly (no
# systemd): munged, mariadbd (private datadir, 127.0.0.1), slurmdbd (accounting, so that `sacct`
# works: the executor plugin polls job states with it), slurmctld, slurmd. All addresses are
# 127.0.0.1. The config must be /etc/slurm/slurm.conf: the plugin clears SLURM_CONF inside jobs.
# State, logs and PID files live in $NNCOSMO_SLURM_DIR (default /var/lib/nncosmo-slurm); `stop`
# stops only the processes whose PID files are there, never by name.
set -euo pipefail

STATE=${NNCOSMO_SLURM_DIR:-/var/lib/nncosmo-slurm}
CONF_DIR=/etc/slurm
MARK="# written by nncosmo workflow/cluster/local-slurm.sh"
CLUSTER=nncosmo
ACCOUNT=nncosmo
DB_PORT=${NNCOSMO_SLURM_DB_PORT:-3307}
PACKAGES=(munge slurmctld slurmd slurm-client slurmdbd mariadb-server)
DAEMONS=(munged mariadbd slurmdbd slurmctld slurmd)   # start order; stop goes backwards
HOST=$(hostname -s)
MUNGE_SOCKET=$STATE/munge/munge.socket

die() { echo "local-slurm.sh: $*" >&2; exit 1; }

pid_of() {  # the PID of a daemon this script started, if that process still runs that binary
    local file=$STATE/run/$1.pid pid
    [[ -s $file ]] || return 1
    pid=$(<"$file")
    [[ $(readlink "/proc/$pid/exe" 2>/dev/null) == $(readlink -f "$(command -v "$1")") ]] || return 1
    echo "$pid"
}

require_root() {
    [[ $(id -u) == 0 ]] || die "must run as root (it installs packages and writes /etc/slurm)"
}

install_packages() {
    local missing=()
    for p in "${PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
    done
    ((${#missing[@]} == 0)) && return
    command -v apt-get >/dev/null || die "apt-get not found: install ${missing[*]} by hand"
    echo "installing ${missing[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" \
        >"$STATE/log/apt.log" 2>&1 || {
        apt-get update -qq >>"$STATE/log/apt.log" 2>&1
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
            "${missing[@]}" >>"$STATE/log/apt.log" 2>&1
    } || die "apt-get install ${missing[*]} failed; see $STATE/log/apt.log"
}

write_configs() {
    if [[ -e $CONF_DIR/slurm.conf ]] && ! grep -qF "$MARK" "$CONF_DIR/slurm.conf"; then
        die "$CONF_DIR/slurm.conf exists and was not written by this script; move it away first"
    fi
    local node
    # CPUs, sockets, cores and memory as slurmd detects them on this machine
    node=$(slurmd -C | head -n 1 | sed "s/^NodeName=[^ ]*/NodeName=$HOST/")
    mkdir -p "$CONF_DIR"
    cat >"$CONF_DIR/slurm.conf" <<EOF
$MARK
ClusterName=$CLUSTER
SlurmctldHost=$HOST(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$MUNGE_SOCKET
StateSaveLocation=$STATE/ctld
SlurmdSpoolDir=$STATE/d
SlurmctldPidFile=$STATE/run/slurmctld.pid
SlurmdPidFile=$STATE/run/slurmd.pid
SlurmctldLogFile=$STATE/log/slurmctld.log
SlurmdLogFile=$STATE/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
JobAcctGatherType=jobacct_gather/linux
JobAcctGatherFrequency=task=1
JobAcctGatherParams=OverMemoryKill
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=127.0.0.1
AccountingStoragePass=$MUNGE_SOCKET
AccountingStoreFlags=job_comment
MailProg=/bin/true
ReturnToService=2
CommunicationParameters=NoInAddrAny,NoCtldInAddrAny
$node NodeAddr=127.0.0.1 State=UNKNOWN
PartitionName=main Nodes=$HOST Default=YES MaxTime=INFINITE State=UP
EOF
    cat >"$CONF_DIR/slurmdbd.conf" <<EOF
$MARK
AuthType=auth/munge
AuthInfo=socket=$MUNGE_SOCKET
DbdHost=$HOST
DbdAddr=127.0.0.1
CommunicationParameters=NoInAddrAny,NoCtldInAddrAny
SlurmUser=root
PidFile=$STATE/run/slurmdbd.pid
LogFile=$STATE/log/slurmdbd.log
StorageType=accounting_storage/mysql
StorageHost=127.0.0.1
StoragePort=$DB_PORT
StorageUser=slurm
StoragePass=slurm
StorageLoc=slurm_acct_db
EOF
    chmod 600 "$CONF_DIR/slurmdbd.conf"
}

wait_for() {  # wait_for <what> <seconds> <command...>: poll until the command succeeds
    local what=$1 seconds=$2
    shift 2
    for ((i = 0; i < seconds * 5; i++)); do
        "$@" >/dev/null 2>&1 && return
        sleep 0.2
    done
    die "$what did not come up within $seconds s; see $STATE/log/"
}

start_munged() {
    pid_of munged >/dev/null && return
    mkdir -p "$STATE/munge"
    chmod 755 "$STATE/munge"
    [[ -s $STATE/munge/munge.key ]] || dd if=/dev/urandom of="$STATE/munge/munge.key" bs=128 \
        count=1 status=none
    chmod 400 "$STATE/munge/munge.key"
    munged --force --key-file="$STATE/munge/munge.key" --socket="$MUNGE_SOCKET" \
        --pid-file="$STATE/run/munged.pid" --log-file="$STATE/log/munged.log" \
        --seed-file="$STATE/munge/munge.seed"
    wait_for munged 10 munge --socket="$MUNGE_SOCKET" -n
}

start_mariadbd() {
    pid_of mariadbd >/dev/null && return
    local sock=$STATE/mysql.sock
    if [[ ! -d $STATE/mysql/mysql ]]; then
        mariadb-install-db --no-defaults --user=root --datadir="$STATE/mysql" \
            >"$STATE/log/mariadb-install.log" 2>&1 ||
            die "mariadb-install-db failed; see $STATE/log/mariadb-install.log"
    fi
    mariadbd --no-defaults --user=root --datadir="$STATE/mysql" --socket="$sock" \
        --bind-address=127.0.0.1 --port="$DB_PORT" --pid-file="$STATE/run/mariadbd.pid" \
        --log-error="$STATE/log/mariadbd.log" --innodb-buffer-pool-size=64M \
        --innodb-lock-wait-timeout=900 >/dev/null 2>&1 &
    wait_for mariadbd 30 mariadb --no-defaults --socket="$sock" -u root -e "SELECT 1"
    mariadb --no-defaults --socket="$sock" -u root -e "
        CREATE USER IF NOT EXISTS 'slurm'@'127.0.0.1' IDENTIFIED BY 'slurm';
        GRANT ALL ON slurm_acct_db.* TO 'slurm'@'127.0.0.1';"
}

start_slurm_daemon() {  # start_slurm_daemon <name>: slurmdbd, slurmctld or slurmd
    pid_of "$1" >/dev/null && return
    case $1 in
    slurmdbd) slurmdbd ;;
    slurmctld) slurmctld -i ;;
    slurmd) slurmd ;;
    esac
    wait_for "$1" 20 pid_of "$1"
}

register_accounts() {  # the cluster, an account and root in it, as a site has them
    wait_for "slurmdbd (sacctmgr)" 30 sacctmgr -n list cluster
    sacctmgr -i add cluster "$CLUSTER" >/dev/null 2>&1 || true
    sacctmgr -i add account "$ACCOUNT" cluster="$CLUSTER" >/dev/null 2>&1 || true
    sacctmgr -i add user root account="$ACCOUNT" defaultaccount="$ACCOUNT" >/dev/null 2>&1 || true
}

node_ready() { sinfo -h -n "$HOST" -o %t | grep -Eq '^(idle|mix|alloc)'; }

start() {
    require_root
    mkdir -p "$STATE"/{run,log,ctld,d}
    install_packages
    write_configs
    start_munged
    start_mariadbd
    start_slurm_daemon slurmdbd
    register_accounts
    start_slurm_daemon slurmctld
    start_slurm_daemon slurmd
    wait_for "node $HOST (sinfo)" 30 node_ready
    status
}

stop() {
    require_root
    if pid_of slurmctld >/dev/null; then  # jobs first: their steps are not daemons' children
        scancel --cluster="$CLUSTER" --user=root >/dev/null 2>&1 || true
        for ((i = 0; i < 50; i++)); do
            [[ -z $(squeue -h 2>/dev/null) ]] && break
            sleep 0.2
        done
    fi
    for ((k = ${#DAEMONS[@]} - 1; k >= 0; k--)); do
        local name=${DAEMONS[k]} pid
        pid=$(pid_of "$name") || continue
        kill "$pid"
        for ((i = 0; i < 100; i++)); do
            [[ -d /proc/$pid ]] || break
            sleep 0.2
        done
        [[ -d /proc/$pid ]] && die "$name (pid $pid) did not stop within 20 s"
        rm -f "$STATE/run/$name.pid"
        echo "stopped $name (pid $pid)"
    done
}

status() {
    local running=0 pid
    for name in "${DAEMONS[@]}"; do
        if pid=$(pid_of "$name"); then
            echo "$name: running (pid $pid)"
            running=$((running + 1))
        else
            echo "$name: not running"
        fi
    done
    ((running > 0)) && pid_of slurmctld >/dev/null && sinfo -h -N -o "node %N: %t, %c CPUs, %m MB" || true
    ((running == ${#DAEMONS[@]}))
}

case ${1:-} in
start) start ;;
stop) stop ;;
status) status ;;
*) die "usage: $0 start|stop|status" ;;
esac
