# CPack: a tarball and a .deb with the layout of cmake/Install.cmake below
# /usr (and /etc/ldapmda), for systems other than Debian 12, where
# packaging/debian builds the real package:
#   cmake --build build && (cd build && cpack -G TGZ)   # or -G DEB
# The tarball has no top-level directory: `tar -C / -xzf` installs it.
set(CPACK_PACKAGE_NAME ldapmda)
set(CPACK_PACKAGE_VENDOR "ldapmda developers")
set(CPACK_PACKAGE_CONTACT "ldapmda developers <ldapmda@example.org>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "${PROJECT_DESCRIPTION}")
set(CPACK_RESOURCE_FILE_LICENSE ${PROJECT_SOURCE_DIR}/LICENSE)
set(CPACK_GENERATOR TGZ DEB)
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_INSTALL_PREFIX /usr)
set(CPACK_SET_DESTDIR ON)
set(CPACK_INCLUDE_TOPLEVEL_DIRECTORY OFF)
set(CPACK_STRIP_FILES ON)

set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION mail)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)  # run-time dependencies from dpkg-shlibdeps
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
file(WRITE ${PROJECT_BINARY_DIR}/cpack/conffiles "/etc/ldapmda/ldapmda.conf\n")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA ${PROJECT_BINARY_DIR}/cpack/conffiles)

include(CPack)
