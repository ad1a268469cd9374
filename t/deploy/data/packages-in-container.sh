#!/bin/bash
# Run by t/deploy/20-packages.t inside a clean Debian bookworm container (host network), with the
# packages in /pkgs.  Does what docs/install.md tells the administrator, except that there is no
# systemd: each service is started with its unit's User=, EnvironmentFile= and ExecStart=.
#   packages-in-container.sh install                  apt-get install the two packages
#   packages-in-container.sh configure PG REDIS AMQP MONGO SMTP BASE
#                                                     point /etc/flores at the host's stores and
#                                                     move every port into BASE+ (the test's range)
#   packages-in-container.sh migrate                  flores-migrate as user flores
#   packages-in-container.sh start                    the services (as their units say) and nginx
set -euo pipefail
shopt -s nullglob

step=${1:?step}
shift

case $step in
install)
    export DEBIAN_FRONTEND=noninteractive
    # Packages must not start their daemons here (the host's network: nginx would take port 80).
    if [[ ! -e /usr/sbin/policy-rc.d ]]; then
        printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
        chmod 755 /usr/sbin/policy-rc.d
    fi
    apt-get -o DPkg::Lock::Timeout=300 update -qq
    debs=(/pkgs/flores_*.deb /pkgs/libnginx-mod-http-flores_*.deb)
    ((${#debs[@]} == 2)) || { echo "expected 2 packages in /pkgs, found ${#debs[@]}" >&2; exit 1; }
    apt-get -o DPkg::Lock::Timeout=300 install -y -q "${debs[@]}"
    dpkg-query -W -f='${Package} ${Version} ${db:Status-Status}\n' flores libnginx-mod-http-flores nginx
    ;;

configure)
    pg=$1 redis=$2 amqp=$3 mongo=$4 smtp=$5 base=$6
    # The stores: the host's, on the test's ports.
    sed -i -E \
        -e "s|^FLORES_PG_URL=.*|FLORES_PG_URL=$pg|" \
        -e "s|^FLORES_REDIS_URL=.*|FLORES_REDIS_URL=$redis|" \
        -e "s|^FLORES_AMQP_URL=.*|FLORES_AMQP_URL=$amqp|" \
        -e "s|^FLORES_MONGO_URL=.*|FLORES_MONGO_URL=$mongo|" \
        -e "s|^FLORES_SMTP_URL=.*|FLORES_SMTP_URL=$smtp|" \
        -e "s|^FLORES_WORKERS=.*|FLORES_WORKERS=2|" \
        /etc/flores/*.env
    # The installed ports (services 9101-9108, internal listener 9081, public 80) moved to
    # BASE+101..108, BASE+81, BASE+80: the container shares the host's network.
    sed -i -E \
        -e "s/127\.0\.0\.1:9(10[1-8])\b/127.0.0.1:$((base / 1000))\1/g" \
        -e "s/127\.0\.0\.1:9081\b/127.0.0.1:$((base + 81))/g" \
        -e "s/^([[:space:]]*)listen 80;/\1listen 127.0.0.1:$((base + 80));/" \
        /etc/flores/*.env /etc/flores/nginx/*.conf /etc/flores/nginx/*/*.conf
    # No systemd here to make /run/nginx.pid's directory or the cache's: they come with the package.
    test -d /var/lib/flores/nginx/tmp
    if grep -rEn '127\.0\.0\.1:(9[0-9]{3})\b|listen 80;' /etc/flores/*.env /etc/flores/nginx; then
        echo "configure: ports left outside the test's range (above)" >&2
        exit 1
    fi
    # Debian's nginx runs the gateway's configuration (docs/install.md).
    mv /etc/nginx/nginx.conf /etc/nginx/nginx.conf.debian
    ln -s /etc/flores/nginx/nginx.conf /etc/nginx/nginx.conf
    nginx -t
    ;;

migrate)
    runuser -u flores -- flores-migrate
    ;;

start)
    # Without systemd the services' standard error (the journal) goes to files here.
    logs=/var/log/flores-services
    mkdir -p "$logs"
    declare -A pids=()
    for unit in /lib/systemd/system/flores-*.service; do
        name=${unit##*/}
        name=${name%.service}
        [[ $name == flores-migrate ]] && continue
        user=$(sed -n 's/^User=//p' "$unit")
        envfile=$(sed -n 's/^EnvironmentFile=//p' "$unit")
        exec_start=$(sed -n 's/^ExecStart=//p' "$unit")
        [[ -n $user && -f $envfile && -x $exec_start ]] \
            || { echo "$unit: User=$user EnvironmentFile=$envfile ExecStart=$exec_start" >&2; exit 1; }
        vars=(PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 TZ=UTC)
        while IFS= read -r line; do
            [[ $line =~ ^[[:space:]]*(#|$) ]] && continue
            vars+=("$line")
        done <"$envfile"
        setsid runuser -u "$user" -- env -i "${vars[@]}" "$exec_start" \
            >"$logs/$name.log" 2>&1 </dev/null &
        pids[$name]=$!
        echo "$name: started as $user (pid $!)"
    done
    sleep 2
    for name in "${!pids[@]}"; do
        kill -0 "${pids[$name]}" 2>/dev/null \
            || { echo "$name: exited at once:" >&2; cat "$logs/$name.log" >&2; exit 1; }
    done
    nginx
    echo "nginx: started"
    ;;

*)
    echo "unknown step $step" >&2
    exit 2
    ;;
esac
