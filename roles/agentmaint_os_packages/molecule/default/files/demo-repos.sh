#!/bin/sh
# Local apt repositories for the molecule scenario of agentmaint_os_packages (the test
# hosts have no internet): small real .deb packages, a normal suite and a security suite.
#
#   demo-repos.sh build   build the packages and both repositories
#   demo-repos.sh index   rewrite the indexes from the .deb files in each pool
#
# /srv/agentmaint-demo/debian           suite bookworm           tool 1.0 2.0, sec 1.0, held 1.0 2.0
# /srv/agentmaint-demo/debian-security  suite bookworm-security  sec 1.1 (Label: Debian-Security);
#                                       its postinst asks for a reboot, as a kernel or libc fix does
set -eu
base=/srv/agentmaint-demo
arch=$(dpkg --print-architecture)

build_deb() {  # build_deb NAME VERSION REPO
    name=$1 version=$2 repo=$3
    work=$(mktemp -d)
    mkdir -p "$work/DEBIAN" "$work/usr/share/agentmaint-demo"
    echo "$version" > "$work/usr/share/agentmaint-demo/$name"
    cat > "$work/DEBIAN/control" <<CONTROL
Package: $name
Version: $version
Architecture: all
Maintainer: agentmaint <agentmaint@example.invalid>
Section: misc
Priority: optional
Description: agentmaint demo package
 $name $version, for the agentmaint_os_packages molecule scenario.
CONTROL
    if [ "$name" = agentmaint-demo-sec ] && [ "$version" = 1.1 ]; then
        cat > "$work/DEBIAN/postinst" <<'POSTINST'
#!/bin/sh
set -e
if [ "$1" = configure ]; then
    touch /var/run/reboot-required
    echo agentmaint-demo-sec >> /var/run/reboot-required.pkgs
fi
POSTINST
        chmod 755 "$work/DEBIAN/postinst"
    fi
    mkdir -p "$repo/pool"
    dpkg-deb --root-owner-group --build "$work" "$repo/pool/${name}_${version}_all.deb" > /dev/null
    rm -rf "$work"
}

index() {  # index REPO SUITE LABEL
    repo=$1 suite=$2 label=$3
    dir=$repo/dists/$suite/main/binary-$arch
    mkdir -p "$dir"
    : > "$dir/Packages"
    for deb in "$repo"/pool/*.deb; do
        [ -e "$deb" ] || continue
        {
            dpkg-deb --field "$deb"
            echo "Filename: pool/${deb##*/}"
            echo "Size: $(stat -c %s "$deb")"
            echo "SHA256: $(sha256sum "$deb" | cut -d ' ' -f 1)"
            echo
        } >> "$dir/Packages"
    done
    sum=$(sha256sum "$dir/Packages" | cut -d ' ' -f 1)
    size=$(stat -c %s "$dir/Packages")
    cat > "$repo/dists/$suite/Release" <<RELEASE
Origin: agentmaint-demo
Label: $label
Suite: $suite
Codename: $suite
Date: $(LC_ALL=C date -u -R)
Architectures: $arch
Components: main
Description: agentmaint demo repository
SHA256:
 $sum $size main/binary-$arch/Packages
RELEASE
}

index_all() {
    index "$base/debian" bookworm agentmaint-demo
    index "$base/debian-security" bookworm-security Debian-Security
}

case ${1:-} in
    build)
        rm -rf "$base"
        for version in 1.0 2.0; do
            build_deb agentmaint-demo-tool "$version" "$base/debian"
            build_deb agentmaint-demo-held "$version" "$base/debian"
        done
        build_deb agentmaint-demo-sec 1.0 "$base/debian"
        build_deb agentmaint-demo-sec 1.1 "$base/debian-security"
        index_all
        chmod -R a+rX "$base"
        ;;
    index)
        index_all
        chmod -R a+rX "$base"
        ;;
    *)
        echo "usage: $0 build|index" >&2
        exit 2
        ;;
esac
