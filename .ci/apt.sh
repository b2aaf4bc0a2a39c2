# Sourced by .ci/install-*.sh: `apt_install PACKAGE…` installs Debian packages, with sudo when not
# root. The scripts call it only when what they need is missing, so an update each time is cheap.
apt_install() {
  local sudo=()
  [ "$(id -u)" -eq 0 ] || sudo=(sudo)
  export DEBIAN_FRONTEND=noninteractive
  "${sudo[@]}" apt-get update -qq
  "${sudo[@]}" apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}
