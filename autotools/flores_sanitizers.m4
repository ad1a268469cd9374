# FLORES_SANITIZERS
# --enable-sanitizers builds everything (services, library, nginx module) with
# AddressSanitizer and UndefinedBehaviorSanitizer; any report aborts the process.
AC_DEFUN([FLORES_SANITIZERS], [
  AC_ARG_ENABLE([sanitizers],
    [AS_HELP_STRING([--enable-sanitizers],
      [build with AddressSanitizer and UndefinedBehaviorSanitizer])],
    [], [enable_sanitizers=no])
  SAN_CFLAGS=
  SAN_LDFLAGS=
  AS_IF([test "x$enable_sanitizers" = xyes], [
    SAN_CFLAGS="-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer -g -O1"
    SAN_LDFLAGS="-fsanitize=address,undefined"
  ])
  AC_SUBST([SAN_CFLAGS])
  AC_SUBST([SAN_LDFLAGS])
  AM_CONDITIONAL([SANITIZERS], [test "x$enable_sanitizers" = xyes])
])
