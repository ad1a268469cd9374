#!/bin/bash
# Run by t/deploy/20-packages.t inside a clean Debian bookworm container (host network), with the
# packages in /pkgs.  Does what docs/install.md tells the administrator, except that there is no
# systemd: each service is started with its unit's User=, EnvironmentFile= and ExecStart=.
#   packages-in-container.sh install                  apt-get install the two packages
#   packages-in-container.sh configure PG_HOSTPORT PG_DB MONGO SMTP BASE
#                                                     point /etc/flores at the host's stores,
#                                                     take the credentials flores-provision made
#                                                     (/provisioned: secrets/<service>/...) and
#                                                     move every port into BASE+ (the test's range)
#   packages-in-container.sh boundaries               who may reach a service's socket
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
    # libfcgi-bin: cgi-fcgi, to knock on a service's socket directly (boundaries).
    apt-get -o DPkg::Lock::Timeout=300 install -y -q "${debs[@]}" libfcgi-bin
    dpkg-query -W -f='${Package} ${Version} ${db:Status-Status}\n' flores libnginx-mod-http-flores nginx
    ;;

configure)
    pg=$1 pg_db=$2 mongo=$3 smtp=$4 base=$5
    # The stores: the host's, on the test's ports; each service logs in as itself.
    sed -i -E \
        -e "s|^(FLORES_PG_URL=postgresql://flores_[a-z]+@)127\.0\.0\.1:5432/flores$|\1$pg/$pg_db|" \
        -e "s|^FLORES_MONGO_URL=.*|FLORES_MONGO_URL=$mongo|" \
        -e "s|^FLORES_SMTP_URL=.*|FLORES_SMTP_URL=$smtp|" \
        -e "s|^FLORES_WORKERS=.*|FLORES_WORKERS=2|" \
        /etc/flores/*.env
    # The credentials flores-provision made against those stores, where the services read them
    # (not the stores' administrator's: no service needs them).
    for dir in /provisioned/*/; do
        svc=$(basename "$dir")
        [[ $svc == admin ]] && continue
        install -d -m 0750 -o root -g flores "/etc/flores/secrets/$svc"
        for file in "$dir"*; do
            install -m 0640 -o root -g flores "$file" "/etc/flores/secrets/$svc/"
        done
    done
    # The installed ports (internal listener 9081, public 80) moved to BASE+81, BASE+80: the
    # container shares the host's network.  The services are on unix sockets.
    sed -i -E \
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

boundaries)
    # One line per check, "name: result", for the test to read.
    stat -c 'run-dir: %a %U:%G' /run/flores
    for sock in /run/flores/*.sock; do
        stat -c "socket ${sock##*/}: %F %a %G" "$sock"
    done
    id -nG www-data | tr ' ' '\n' | grep -qx flores-gateway && echo 'www-data: in flores-gateway' \
        || echo 'www-data: not in flores-gateway'
    # (if, not &&: the loop's status is its last command's, and pipefail would end the script)
    for proc in /proc/[0-9]*; do
        if [[ $(cat "$proc/comm" 2>/dev/null) == nginx ]]; then
            stat -c 'nginx-process: %U %G' "$proc"
        fi
    done | sort -u
    # FastCGI straight to a socket: as nobody (cannot connect), as flores without the key
    # (403), with the key (200).
    fcgi() {
        env -i REQUEST_METHOD=GET REQUEST_URI=/health SCRIPT_NAME=/health DOCUMENT_URI=/health \
            QUERY_STRING= SERVER_PROTOCOL=HTTP/1.1 SERVER_NAME=x SERVER_PORT=0 REMOTE_ADDR=127.0.0.1 \
            GATEWAY_INTERFACE=CGI/1.1 "$@" timeout 5 cgi-fcgi -bind -connect /run/flores/product.sock 2>&1 | head -n 1
    }
    printf 'as-nobody: %s\n' "$(setpriv --reuid=nobody --regid=nogroup --clear-groups -- \
        bash -c "$(declare -f fcgi); fcgi" 2>&1 | head -n 1)"
    printf 'without-key: %s\n' "$(runuser -u flores -- bash -c "$(declare -f fcgi); fcgi")"
    key=$(cat /etc/flores/secrets/gateway.key)
    printf 'with-key: %s\n' "$(runuser -u flores -- bash -c "$(declare -f fcgi); fcgi FLORES_GATEWAY_KEY=$key")"
    ;;

*)
    echo "unknown step $step" >&2
    exit 2
    ;;
esac
