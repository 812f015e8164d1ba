# install_system.cmake — the install step for the files whose place depends on the prefix at
# install time (run by `cmake --install` and by cpack; CX_PACKAGING_SRC and CX_PACKAGING_BIN
# are set by the install(CODE) before it in packaging/CMakeLists.txt).
#
# GNUInstallDirs' rule, applied at install time rather than configure time: with prefix /usr
# (the Debian package) the configuration goes to /etc/chengxin, under any other prefix to
# PREFIX/etc/chengxin, so `cmake --install build --prefix /tmp/root` needs no root.
# file(INSTALL) puts $DESTDIR in front of either.
set(_prefix "${CMAKE_INSTALL_PREFIX}")
if(_prefix STREQUAL "/usr")
  set(CX_ETCDIR "/etc/chengxin")
else()
  set(CX_ETCDIR "${_prefix}/etc/chengxin")
endif()
set(CX_BINDIR "${_prefix}/bin")
configure_file("${CX_PACKAGING_SRC}/chengxind.service.in" "${CX_PACKAGING_BIN}/chengxind.service" @ONLY)
file(INSTALL DESTINATION "${_prefix}/lib/systemd/system" TYPE FILE
     FILES "${CX_PACKAGING_BIN}/chengxind.service")
file(INSTALL DESTINATION "${CX_ETCDIR}" TYPE FILE FILES "${CX_PACKAGING_SRC}/chengxind.conf")
