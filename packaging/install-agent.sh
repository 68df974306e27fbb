#!/bin/sh
# Installs the Outpost agent as a system service, from a release bundle (npm run package).
#
#   install-agent.sh --control-plane cp.example.com:7400 --token oet_… [--name store-01]
#                    [--label region=eu]... [--disk-budget 2GiB] [--secrets-file FILE]
#                    [--file-root /srv/drop]... [--bundle outpost-agent-….tar.gz] [--prefix /] [--no-start]
#   install-agent.sh --uninstall [--purge] [--prefix /]
#
# Lays out /opt/outpost-agent (the bundle), /etc/outpost/agent.yaml (settings, 0640),
# /var/lib/outpost/agent (state, 0700) and the systemd unit; creates the outpost user; enables and
# starts the service, which enrols with the token on its first start. Safe to run again: the
# bundle is replaced, settings are rewritten only from the flags given, state is kept.
# --uninstall stops and removes the service and the bundle; --purge also removes settings and state.
# --prefix installs under another root (for tests and images); then nothing is started.
set -eu

prefix=/
bundle=""
control_plane=""
token=""
name=""
labels=""
disk_budget=""
secrets_file=""
file_roots=""
start=yes
uninstall=no
purge=no

die() { echo "install-agent: $*" >&2; exit 1; }

while [ $# -gt 0 ]; do
  case "$1" in
    --prefix) prefix="$2"; shift 2 ;;
    --bundle) bundle="$2"; shift 2 ;;
    --control-plane) control_plane="$2"; shift 2 ;;
    --token) token="$2"; shift 2 ;;
    --name) name="$2"; shift 2 ;;
    --label) labels="$labels $2"; shift 2 ;;
    --disk-budget) disk_budget="$2"; shift 2 ;;
    --secrets-file) secrets_file="$2"; shift 2 ;;
    --file-root) file_roots="$file_roots $2"; shift 2 ;;
    --no-start) start=no; shift ;;
    --uninstall) uninstall=yes; shift ;;
    --purge) purge=yes; shift ;;
    -h|--help) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown option $1 (see --help)" ;;
  esac
done

root="${prefix%/}"
opt="$root/opt/outpost-agent"
etc="$root/etc/outpost"
state="$root/var/lib/outpost/agent"
unit_dir="$root/etc/systemd/system"
unit="$unit_dir/outpost-agent.service"
system=no
[ "$root" = "" ] && system=yes
have_systemd=no
if [ "$system" = yes ] && command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then have_systemd=yes; fi

if [ "$uninstall" = yes ]; then
  if [ "$have_systemd" = yes ]; then systemctl disable --now outpost-agent.service 2>/dev/null || true; fi
  rm -rf "$opt" "$unit"
  if [ "$purge" = yes ]; then rm -rf "$etc/agent.yaml" "$etc/secrets" "$state"; fi
  if [ "$have_systemd" = yes ]; then systemctl daemon-reload; fi
  echo "outpost agent removed${purge:+}$( [ "$purge" = yes ] && echo ', with its settings and state' || echo "; settings in $etc and state in $state kept")"
  exit 0
fi

# The bundle: a tarball, a directory, or the one this script came in.
here="$(cd "$(dirname "$0")" && pwd)"
if [ -z "$bundle" ] && [ -x "$here/bin/outpost" ]; then bundle="$here"; fi
[ -n "$bundle" ] || die "give --bundle outpost-agent-….tar.gz"
work=""
if [ -f "$bundle" ]; then
  work="$(mktemp -d)"
  tar -xzf "$bundle" -C "$work" || die "cannot unpack $bundle"
  bundle="$(find "$work" -mindepth 1 -maxdepth 1 -type d | head -n 1)"
fi
[ -x "$bundle/bin/outpost" ] || die "$bundle is not an Outpost agent bundle (no bin/outpost)"

if [ "$system" = yes ] && [ "$(id -u)" -ne 0 ]; then die "run as root (or with --prefix DIR)"; fi
if [ ! -f "$etc/agent.yaml" ] && [ -z "$control_plane" ]; then die "give --control-plane HOST:PORT (and --token for a new agent)"; fi

# The user the service runs as.
if [ "$system" = yes ] && ! id outpost >/dev/null 2>&1; then
  useradd --system --home-dir /var/lib/outpost --no-create-home --shell /usr/sbin/nologin outpost
fi

mkdir -p "$root/opt" "$etc" "$state" "$unit_dir"
rm -rf "$opt.new"
cp -R "$bundle" "$opt.new"
rm -rf "$opt"
mv "$opt.new" "$opt"
[ -n "$work" ] && rm -rf "$work"
chmod 0700 "$state"

# Settings: rewritten when flags are given, kept otherwise.
if [ -n "$control_plane" ]; then
  {
    echo "# Outpost agent settings (outpost agent --help); written by install-agent.sh"
    echo "control_plane: \"$control_plane\""
    [ -n "$token" ] && echo "token: \"$token\""
    echo "state_dir: \"$state\""
    [ -n "$name" ] && echo "name: \"$name\""
    if [ -n "$labels" ]; then
      echo "labels:"
      for l in $labels; do echo "  \"${l%%=*}\": \"${l#*=}\""; done
    fi
    [ -n "$disk_budget" ] && echo "disk_budget: \"$disk_budget\""
    [ -n "$secrets_file" ] && echo "secrets_file: \"$secrets_file\""
    # Pipelines read and write files only inside these directories; without any, anywhere the
    # outpost user may (set them on hosts shared with other data).
    if [ -n "$file_roots" ]; then
      echo "file_roots:"
      for d in $file_roots; do echo "  - \"$d\""; done
    else
      echo "# file_roots: [/srv/outpost]"
    fi
    echo "log_format: json"
  } > "$etc/agent.yaml.new"
  mv "$etc/agent.yaml.new" "$etc/agent.yaml"
fi
chmod 0640 "$etc/agent.yaml"
if [ "$system" = yes ]; then chown -R outpost:outpost "$state"; chgrp outpost "$etc/agent.yaml"; fi

# The settings must be valid before the service is (re)started.
"$opt/bin/outpost" agent --config "$etc/agent.yaml" --check-config >/dev/null || die "the settings in $etc/agent.yaml are not valid (see above)"

sed -e "s#/opt/outpost-agent#$opt#g" -e "s#/etc/outpost/agent.yaml#$etc/agent.yaml#g" \
  "$opt/packaging/systemd/outpost-agent.service" > "$unit"

if [ "$have_systemd" = yes ] && [ "$start" = yes ]; then
  systemctl daemon-reload
  systemctl enable outpost-agent.service >/dev/null
  systemctl restart outpost-agent.service
  echo "outpost agent $(cat "$opt/VERSION") installed and started: journalctl -u outpost-agent -f"
else
  echo "outpost agent $(cat "$opt/VERSION") installed in $opt; start it with: $opt/bin/outpost agent --config $etc/agent.yaml"
fi
