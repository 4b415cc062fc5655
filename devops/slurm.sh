#!/usr/bin/env bash
# A one-node SLURM cluster on this machine, for trying devops/sweep.slurm and hydra/launcher=slurm
# without a real cluster (and for the tests: .ci/run starts one).
#
#   devops/slurm.sh start DIR    # prints the path of DIR/slurm.conf: export SLURM_CONF=<it>
#   devops/slurm.sh status DIR   # exit 0 when the node answers and is up
#   devops/slurm.sh stop DIR
#
# `start` installs Debian's `slurm-wlm` and `munge` packages when their daemons are missing
# (as root), writes DIR/slurm.conf for one node (this host, on 127.0.0.1, all its CPUs, the
# memory of /proc/meminfo, no GPUs), starts munged, slurmctld and slurmd directly (no systemd
# needed) and waits until `sinfo` shows the node idle. The SLURM commands (sbatch, squeue,
# scancel, sinfo) then work with SLURM_CONF=DIR/slurm.conf in the environment. It is idempotent:
# on a running cluster it only prints the path. That path is the only line on stdout; progress
# goes to stderr. Jobs run as the submitting user, root included; nothing is accounted.
set -euo pipefail

say() { echo "slurm.sh: $*" >&2; }
die() { say "error: $*"; exit 1; }

usage() {
    sed -n '2,7p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
}

# How long to wait for the node to come up. From cold (packages installed) it takes a few
# seconds; slurmd registers at once, slurmctld may take a scheduling cycle to mark it idle.
WAIT_S="${SLURM_SH_WAIT_S:-120}"

have_slurm() {
    command -v slurmctld >/dev/null 2>&1 && command -v slurmd >/dev/null 2>&1 \
        && command -v sbatch >/dev/null 2>&1 && command -v munged >/dev/null 2>&1
}

install_slurm() {
    [[ "$(id -u)" -eq 0 ]] || die "SLURM is not installed; run as root once, or: sudo apt-get install -y slurm-wlm munge"
    command -v apt-get >/dev/null 2>&1 || die "SLURM is not installed and apt-get is missing; install slurm-wlm and munge and rerun"
    say "installing Debian's slurm-wlm and munge packages"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    apt-get install -y -qq slurm-wlm munge >&2
}

pid_alive() {
    # A pid file whose process still runs: the daemons' own record of themselves.
    [[ -f "$1" ]] && kill -0 "$(cat "$1")" 2>/dev/null
}

munge_ok() {
    munge -n 2>/dev/null | unmunge >/dev/null 2>&1
}

start_munge() {
    if munge_ok; then
        say "munged already answers"
        return 0
    fi
    # Debian's package makes the key at install time; a machine set up otherwise may lack it.
    if [[ ! -s /etc/munge/munge.key ]]; then
        say "creating /etc/munge/munge.key"
        mkdir -p /etc/munge
        mungekey --create --keyfile=/etc/munge/munge.key >&2
        chown munge:munge /etc/munge/munge.key 2>/dev/null || true
        chmod 400 /etc/munge/munge.key
    fi
    # /run is emptied at boot and systemd usually recreates these; here nobody does.
    mkdir -p /run/munge /var/lib/munge /var/log/munge
    chown munge:munge /run/munge /var/lib/munge /var/log/munge 2>/dev/null || true
    chmod 755 /run/munge
    say "starting munged"
    if id munge >/dev/null 2>&1 && [[ "$(id -u)" -eq 0 ]]; then
        runuser -u munge -- munged >&2
    else
        munged >&2
    fi
    # Recorded so that `stop` ends the munged it started, and only that one.
    echo /run/munge/munged.pid >"$DIR/munged.ours"
    local i
    for i in $(seq 1 50); do
        munge_ok && return 0
        sleep 0.1
    done
    die "munged does not answer; see /var/log/munge/munged.log"
}

write_conf() {
    local host cpus mem_mb
    host="$(hostname -s)"
    cpus="$(nproc)"
    # RealMemory in MB, from the kernel's count (slurmd drains a node that claims more).
    mem_mb="$(awk '/^MemTotal:/ {print int($2 / 1024)}' /proc/meminfo)"
    mkdir -p "$DIR/state" "$DIR/spool" "$DIR/log"
    cat >"$DIR/slurm.conf" <<EOF
# Written by devops/slurm.sh: one node, this host on loopback, no GPUs, no accounting.
ClusterName=nested-sweeper
SlurmctldHost=$host(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool
SlurmctldPidFile=$DIR/slurmctld.pid
SlurmdPidFile=$DIR/slurmd.pid
SlurmctldLogFile=$DIR/log/slurmctld.log
SlurmdLogFile=$DIR/log/slurmd.log
SlurmctldPort=$CTLD_PORT
SlurmdPort=$SLURMD_PORT
# No cgroups in a container without systemd: track processes by parent, bind nothing.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
# Each CPU is a consumable unit (CR_CPU), so two 1-CPU jobs share a 2-core node.
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerType=sched/backfill
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
# A node that went down (slurmd restarted) is back in service as soon as it registers.
ReturnToService=2
# Scancelled and timed-out jobs are gone fast; finished jobs stay visible to squeue/sacct-less
# tests for a minute.
KillWait=5
MinJobAge=60
SlurmdTimeout=60
InactiveLimit=0
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem_mb State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF
    say "wrote $DIR/slurm.conf ($host: $cpus CPUs, $mem_mb MB, no GPUs)"
}

node_state() {
    SLURM_CONF="$DIR/slurm.conf" sinfo -h -N -o %t 2>/dev/null | head -n 1
}

port_busy() {
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

cmd="${1:-}"
[[ $# -eq 2 ]] || usage
case "$cmd" in start | stop | status) ;; *) usage ;; esac
mkdir -p "$2"
DIR="$(cd "$2" && pwd)"
# SLURM's default ports, unless another cluster holds them (then the next free pair).
CTLD_PORT=6817
SLURMD_PORT=6818

case "$cmd" in
start)
    if [[ -f "$DIR/slurm.conf" ]] && pid_alive "$DIR/slurmctld.pid" && pid_alive "$DIR/slurmd.pid" \
        && [[ "$(node_state)" =~ ^(idle|mix|alloc)$ ]]; then
        say "already running (node $(node_state))"
        echo "$DIR/slurm.conf"
        exit 0
    fi
    t0=$SECONDS
    have_slurm || install_slurm
    have_slurm || die "slurmctld/slurmd/sbatch/munged not found after installing slurm-wlm and munge"
    [[ "$(id -u)" -eq 0 ]] || die "slurmd must run as root (it starts jobs as their users)"
    start_munge
    # A half-started earlier cluster in DIR: stop its daemons before writing a new config.
    for d in slurmd slurmctld; do
        if pid_alive "$DIR/$d.pid"; then
            kill "$(cat "$DIR/$d.pid")" 2>/dev/null || true
            sleep 1
        fi
    done
    while port_busy "$CTLD_PORT" || port_busy "$SLURMD_PORT"; do
        CTLD_PORT=$((CTLD_PORT + 10))
        SLURMD_PORT=$((SLURMD_PORT + 10))
        [[ "$CTLD_PORT" -lt 7000 ]] || die "no free port pair for slurmctld and slurmd"
    done
    write_conf
    export SLURM_CONF="$DIR/slurm.conf"
    # -c: start with a clean state (no jobs from an earlier cluster in DIR); -i: ignore a
    # state file it cannot read instead of refusing to start.
    say "starting slurmctld (port $CTLD_PORT)"
    slurmctld -c -i -f "$SLURM_CONF" >&2 || die "slurmctld did not start; see $DIR/log/slurmctld.log"
    say "starting slurmd (port $SLURMD_PORT)"
    slurmd -f "$SLURM_CONF" >&2 || die "slurmd did not start; see $DIR/log/slurmd.log"
    state=""
    for i in $(seq 1 "$((WAIT_S * 2))"); do
        state="$(node_state)"
        # Exactly "idle": "idle*" is a node slurmctld knows of but has not heard from yet.
        [[ "$state" == idle ]] && break
        # A node registered while slurmctld still thought it down comes back on an update.
        if [[ "$state" == down* || "$state" == drain* ]]; then
            scontrol update nodename="$(hostname -s)" state=resume >/dev/null 2>&1 || true
        fi
        sleep 0.5
    done
    [[ "$state" == idle ]] || die "the node is '${state:-not listed}' after ${WAIT_S}s; see $DIR/log/"
    say "running: 1 node idle after $((SECONDS - t0))s (export SLURM_CONF=$SLURM_CONF; stop: devops/slurm.sh stop $DIR)"
    echo "$SLURM_CONF"
    ;;
status)
    [[ -f "$DIR/slurm.conf" ]] && pid_alive "$DIR/slurmctld.pid" && pid_alive "$DIR/slurmd.pid" \
        && [[ "$(node_state)" =~ ^(idle|mix|alloc)$ ]]
    ;;
stop)
    stopped=no
    if [[ -f "$DIR/slurm.conf" ]] && pid_alive "$DIR/slurmctld.pid"; then
        # Jobs first, so no job step outlives the cluster that started it.
        SLURM_CONF="$DIR/slurm.conf" scancel --full --quiet --user="$(id -un)" 2>/dev/null || true
    fi
    for d in slurmd slurmctld; do
        if pid_alive "$DIR/$d.pid"; then
            pid="$(cat "$DIR/$d.pid")"
            kill "$pid" 2>/dev/null || true
            for i in $(seq 1 50); do
                kill -0 "$pid" 2>/dev/null || break
                sleep 0.1
            done
            kill -9 "$pid" 2>/dev/null || true
            say "stopped $d (pid $pid)"
            stopped=yes
        fi
    done
    # munged is left running when it was there before us; ours is recorded in munged.ours.
    if [[ -f "$DIR/munged.ours" ]]; then
        if pid_alive "$(cat "$DIR/munged.ours")"; then
            pid="$(cat "$(cat "$DIR/munged.ours")")"
            kill "$pid" 2>/dev/null || true
            say "stopped munged (pid $pid)"
            stopped=yes
        fi
        rm -f "$DIR/munged.ours"
    fi
    if [[ "$stopped" == no ]]; then
        say "no cluster runs in $DIR"
    fi
    ;;
esac
