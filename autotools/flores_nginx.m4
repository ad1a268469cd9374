# FLORES_NGINX_MODULE
# Finds Debian's nginx-dev (headers and configure under /usr/share/nginx/src),
# generates ngx_auto_config.h with the exact flags Debian built nginx with
# (conf_flags), so that the module's signature matches the installed binary,
# and checks the version of the nginx binary against the headers.
AC_DEFUN([FLORES_NGINX_MODULE], [
  AC_ARG_WITH([nginx-src],
    [AS_HELP_STRING([--with-nginx-src=DIR],
      [nginx development sources (default: /usr/share/nginx/src)])],
    [NGX_SRC=$withval], [NGX_SRC=/usr/share/nginx/src])
  AC_ARG_WITH([nginx],
    [AS_HELP_STRING([--with-nginx=PATH], [nginx binary the module is built for (default: /usr/sbin/nginx)])],
    [NGINX_BIN=$withval], [NGINX_BIN=/usr/sbin/nginx])
  AC_ARG_ENABLE([nginx-module],
    [AS_HELP_STRING([--disable-nginx-module], [do not build the gateway module])],
    [], [enable_nginx_module=auto])
  AC_ARG_WITH([nginx-moduledir],
    [AS_HELP_STRING([--with-nginx-moduledir=DIR], [where the module is installed (default: LIBDIR/nginx/modules)])],
    [ngxmoduledir=$withval], [ngxmoduledir='${libdir}/nginx/modules'])
  AC_SUBST([ngxmoduledir])

  flores_nginx_module=no
  AS_IF([test "x$enable_nginx_module" != xno], [
    AC_MSG_CHECKING([for nginx development sources])
    AS_IF([test -x "$NGX_SRC/configure" && test -f "$NGX_SRC/src/core/nginx.h"],
      [AC_MSG_RESULT([$NGX_SRC])
       flores_nginx_module=yes],
      [AC_MSG_RESULT([no])
       AS_IF([test "x$enable_nginx_module" = xyes],
         [AC_MSG_ERROR([nginx development sources not found in $NGX_SRC (apt-get install nginx-dev)])])])
  ])

  AS_IF([test "x$flores_nginx_module" = xyes], [
    NGX_VERSION=`sed -n 's/^#define NGINX_VERSION *"\(.*\)"/\1/p' "$NGX_SRC/src/core/nginx.h"`
    AC_MSG_CHECKING([that $NGINX_BIN is nginx $NGX_VERSION])
    ngx_bin_version=`"$NGINX_BIN" -v 2>&1 | sed -n 's|.*nginx/\(@<:@0-9.@:>@*\).*|\1|p'`
    AS_IF([test "x$ngx_bin_version" = "x$NGX_VERSION"],
      [AC_MSG_RESULT([yes])],
      [AC_MSG_RESULT([no: $ngx_bin_version])
       AC_MSG_ERROR([the module would not load: nginx binary $ngx_bin_version, headers $NGX_VERSION])])

    dnl nginx's configure writes into its own tree: run it on a private copy.
    dnl conf_flags is a bash array, and configure may run under a POSIX sh.
    NGX_BUILD=`pwd`/nginx-module/ngx-objs
    AC_MSG_CHECKING([for nginx build headers with the distribution's flags])
    rm -rf nginx-module/ngx-src "$NGX_BUILD"
    AS_MKDIR_P([nginx-module])
    cp -R "$NGX_SRC" nginx-module/ngx-src
    chmod -R u+w nginx-module/ngx-src
    AS_IF([test -f "$NGX_SRC/conf_flags"], [],
      [AC_MSG_WARN([$NGX_SRC/conf_flags not found: the module may not be binary compatible with $NGINX_BIN])])
    (cd nginx-module/ngx-src && NGX_SRC="$NGX_SRC" NGX_BUILD="$NGX_BUILD" bash -c '
        NGX_CONF_FLAGS=()
        if test -f "$NGX_SRC/conf_flags"; then . "$NGX_SRC/conf_flags"; fi
        exec ./configure "${NGX_CONF_FLAGS@<:@@@:>@}" --builddir="$NGX_BUILD"') \
      >config-nginx.log 2>&1 \
      || AC_MSG_ERROR([nginx configure failed, see config-nginx.log])
    AC_MSG_RESULT([$NGX_BUILD])
    ngx_inc=`pwd`/nginx-module/ngx-src/src
    NGX_CPPFLAGS="-I$ngx_inc/core -I$ngx_inc/event -I$ngx_inc/event/modules -I$ngx_inc/os/unix -I$ngx_inc/http -I$ngx_inc/http/modules -I$ngx_inc/http/v2 -I$NGX_BUILD"
    dnl nginx compiles itself with these; its headers are not -Wextra clean.
    NGX_WARN_CFLAGS="-Wall -Wextra -Werror -Wpointer-arith -Wno-unused-parameter -Wno-sign-compare"
  ])
  AC_SUBST([NGX_SRC])
  AC_SUBST([NGX_VERSION])
  AC_SUBST([NGX_CPPFLAGS])
  AC_SUBST([NGX_WARN_CFLAGS])
  AC_SUBST([NGINX_BIN])
  AM_CONDITIONAL([NGINX_MODULE], [test "x$flores_nginx_module" = xyes])
])
