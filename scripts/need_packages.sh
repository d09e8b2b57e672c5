#!/bin/sh
# Make sure the Debian packages the tests need are installed:
#   sh scripts/need_packages.sh PACKAGE...
# A missing package is installed with apt-get when running as root; otherwise
# this stops with one line naming it. Run by `deno task test` and .ci/run.
set -eu

missing=""
for package in "$@"; do
  if command -v dpkg-query >/dev/null 2>&1; then
    status=$(dpkg-query -W -f='${Status}' "$package" 2>/dev/null || true)
    [ "$status" = "install ok installed" ] && continue
  elif command -v "$package" >/dev/null 2>&1; then
    continue
  fi
  missing="$missing $package"
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "Installing Debian packages the tests need:$missing" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  # shellcheck disable=SC2086 # one word per package
  apt-get install -y -qq $missing >&2
  exit 0
fi
echo "Cannot run the tests: missing Debian package(s)$missing (install with: sudo apt-get install$missing)" >&2
exit 1
