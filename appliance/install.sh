#!/bin/sh
# First install of Airlock from a signed release bundle (docs/OPERATIONS.md § First install).
#
#   sudo sh install.sh [--expect-sha256 HEX] [--agent] [--config FILE] [--no-start] [--root DIR] airlock-X.Y.Z.bundle
#
# Lays out /opt/airlock/releases/X.Y.Z and /opt/airlock/current, links /usr/bin/airlock (and
# airlockd) to the current release, installs the systemd unit, creates the `airlock` system user
# (`airlock-agent` with --agent), the data directory /var/lib/airlock (0700) and, if absent,
# /etc/airlock/airlock.toml from the bundle (or FILE). The bundle's signature and every file's
# hash are checked by the bundle's own `airlock upgrade install` before anything is put in place;
# but that program comes from the bundle itself, so on a first install the bundle's SHA-256 is the
# root of trust: give the one on the vendor's release note as --expect-sha256, and nothing from
# a bundle that differs is run.
#
# --root DIR installs under DIR instead of / and skips users, ownership and systemctl: for tests
# and for preparing an image. Later releases go through `airlock upgrade apply`, never this.
set -eu

root=""
start=1
agent=0
config=""
expect=""
while [ $# -gt 1 ]; do
    case "$1" in
        --root) root="$2"; shift 2 ;;
        --config) config="$2"; shift 2 ;;
        --expect-sha256) expect="$2"; shift 2 ;;
        --no-start) start=0; shift ;;
        --agent) agent=1; shift ;;
        *) echo "install.sh: unknown option $1" >&2; exit 2 ;;
    esac
done
[ $# -eq 1 ] || { echo "usage: install.sh [--expect-sha256 HEX] [--agent] [--config FILE] [--no-start] [--root DIR] BUNDLE" >&2; exit 2; }
bundle="$1"
[ -f "$bundle" ] || { echo "install.sh: no bundle at $bundle" >&2; exit 1; }
case "$bundle" in /*) ;; *) bundle="$(pwd)/$bundle" ;; esac
[ -n "$root" ] || [ "$(id -u)" -eq 0 ] || { echo "install.sh: run as root (or give --root DIR)" >&2; exit 1; }

prefix="$root/opt/airlock"
data="$root/var/lib/airlock"
etc="$root/etc/airlock"
units="$root/etc/systemd/system"
echo "bundle $bundle"
digest="$(sha256sum "$bundle" | cut -d' ' -f1)"
if [ -n "$expect" ]; then
    [ "$digest" = "$expect" ] || { echo "install.sh: the bundle's SHA-256 is $digest, not $expect: refusing it" >&2; exit 1; }
    echo "sha256 $digest (as expected)"
else
    echo "sha256 $digest  (not checked: compare it with the vendor's release note, or pass --expect-sha256)"
fi

if [ -e "$prefix/current" ]; then
    echo "install.sh: $prefix/current exists; upgrade with: airlock upgrade apply $bundle" >&2
    exit 1
fi

# The bundle's own airlock does the checked install; take it out of the ZIP with whatever is here.
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
if command -v unzip >/dev/null 2>&1; then
    unzip -p "$bundle" payload/bin/airlock > "$work/airlock"
elif command -v python3 >/dev/null 2>&1; then
    python3 -c 'import sys, zipfile; sys.stdout.buffer.write(zipfile.ZipFile(sys.argv[1]).read("payload/bin/airlock"))' "$bundle" > "$work/airlock"
else
    echo "install.sh: needs unzip or python3 to read the bundle" >&2
    exit 1
fi
chmod 0755 "$work/airlock"

if [ -z "$root" ]; then
    user=airlock
    [ "$agent" -eq 1 ] && user=airlock-agent
    getent group "$user" >/dev/null || groupadd --system "$user"
    getent passwd "$user" >/dev/null || useradd --system --gid "$user" --home-dir "/var/lib/$user" --shell /usr/sbin/nologin "$user"
fi

install -d -m 0755 "$prefix" "$units" "$root/usr/bin"
install -d -m 0750 "$etc"
if [ -n "$config" ] && [ ! -e "$etc/airlock.toml" ]; then
    install -m 0640 "$config" "$etc/airlock.toml"
fi
# The checked install: signature by a trusted release key, every hash, then current.
[ -e "$etc/airlock.toml" ] && export AIRLOCK_CONFIG="$etc/airlock.toml"
"$work/airlock" upgrade install --prefix "$prefix" --data-dir "$data" "$bundle"

if [ ! -e "$etc/airlock.toml" ]; then
    install -m 0640 "$prefix/current/appliance/airlock.toml" "$etc/airlock.toml"
fi
if [ "$agent" -eq 1 ]; then
    install -m 0644 "$prefix/current/appliance/systemd/airlock-agent.service" "$units/airlock-agent.service"
    ln -sfn /opt/airlock/current/bin/airlock-agent "$root/usr/bin/airlock-agent"
else
    install -m 0644 "$prefix/current/appliance/systemd/airlockd.service" "$units/airlockd.service"
    ln -sfn /opt/airlock/current/bin/airlock "$root/usr/bin/airlock"
    ln -sfn /opt/airlock/current/bin/airlockd "$root/usr/bin/airlockd"
    install -d -m 0700 "$data"
fi

if [ -z "$root" ]; then
    if [ "$agent" -eq 0 ]; then
        chown airlock:airlock "$data"
        chgrp airlock "$etc" "$etc/airlock.toml"
    fi
    systemctl daemon-reload
    if [ "$start" -eq 1 ]; then
        if [ "$agent" -eq 1 ]; then
            echo "enrol the agent first (docs/OPERATIONS.md § GPU nodes), then: systemctl enable --now airlock-agent.service"
        else
            systemctl enable --now airlockd.service
        fi
    fi
fi
echo "installed: $(readlink "$prefix/current")"
