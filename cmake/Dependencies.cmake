# Third-party libraries of ldapmda_core, gathered in one INTERFACE target.
#
# A pipe-mode delivery is one short process. Resolving symbols across the
# 32 shared objects GMime, GLib, Boost and libldap bring costs it about
# 12 million instructions (callgrind), as much as all the rest of the
# delivery. With LDAPMDA_STATIC_DEPS the libraries Debian ships as static
# archives -- GMime, GIO/GObject/GModule/GLib with PCRE2 and libffi,
# Boost.ProgramOptions, libldap, liblber -- and libstdc++ are linked in.
# gpgme, libmount and GnuTLS have no archives and stay shared, and Cyrus
# SASL must: its plugins link against the shared libsasl2.
option(LDAPMDA_STATIC_DEPS
       "Link the libraries Debian ships as static archives statically" ON)

find_package(PkgConfig REQUIRED)
pkg_check_modules(GMIME REQUIRED IMPORTED_TARGET gmime-3.0)
# SHA-256 of every message (mdaKey): nettle uses the CPU's SHA
# instructions, about 3 times as fast as GLib's; libldap's GnuTLS loads it
# anyway.
pkg_check_modules(NETTLE REQUIRED IMPORTED_TARGET nettle)
find_package(Boost 1.74 REQUIRED COMPONENTS program_options)
find_package(Threads REQUIRED)
find_library(LDAP_LIBRARY NAMES ldap REQUIRED)
find_library(LBER_LIBRARY NAMES lber REQUIRED)
find_path(LDAP_INCLUDE_DIR ldap.h REQUIRED)

# ldapmda_dep_headers: what compiling against the libraries needs; the
# part libraries (src/*) use only this, so that each program decides how
# it links them. ldapmda_deps: headers and the libraries, linked as
# LDAPMDA_STATIC_DEPS says (the programs and tests). ldapmda_deps_shared:
# always the shared libraries (the Dovecot plugin, a shared object).
add_library(ldapmda_dep_headers INTERFACE)
target_include_directories(ldapmda_dep_headers SYSTEM INTERFACE
                           ${LDAP_INCLUDE_DIR} ${GMIME_INCLUDE_DIRS}
                           ${NETTLE_INCLUDE_DIRS})
target_compile_options(ldapmda_dep_headers INTERFACE ${GMIME_CFLAGS_OTHER})

add_library(ldapmda_deps INTERFACE)
target_link_libraries(ldapmda_deps INTERFACE ldapmda_dep_headers)

add_library(ldapmda_deps_shared INTERFACE)
target_link_libraries(ldapmda_deps_shared INTERFACE ldapmda_dep_headers
                      PkgConfig::GMIME PkgConfig::NETTLE Boost::program_options
                      ${LDAP_LIBRARY} ${LBER_LIBRARY})

# Sanitizers want the shared runtime; so does a build that lacks archives.
set(_static_ok OFF)
if(LDAPMDA_STATIC_DEPS AND NOT LDAPMDA_SANITIZE AND NOT LDAPMDA_FUZZ)
  set(_static_ok ON)
  set(_archives)
  foreach(_lib gmime-3.0 gio-2.0 gobject-2.0 gmodule-2.0 glib-2.0 pcre2-8 ffi
               boost_program_options ldap lber)
    find_library(_archive_${_lib} NAMES lib${_lib}.a)
    if(NOT _archive_${_lib})
      message(STATUS "lib${_lib}.a not found: linking dependencies shared")
      set(_static_ok OFF)
    endif()
    list(APPEND _archives ${_archive_${_lib}})
  endforeach()
  set(_shared)
  foreach(_lib gpgme idn2 sasl2 gnutls nettle mount selinux z resolv)
    find_library(_shared_${_lib} NAMES ${_lib})
    if(NOT _shared_${_lib})
      message(STATUS "lib${_lib} not found: linking dependencies shared")
      set(_static_ok OFF)
    endif()
    list(APPEND _shared ${_shared_${_lib}})
  endforeach()
endif()

if(_static_ok)
  message(STATUS "ldapmda: GMime, GLib, Boost, libldap and libstdc++ linked statically")
  target_link_libraries(ldapmda_deps INTERFACE ${_archives} ${_shared}
                                               Threads::Threads ${CMAKE_DL_LIBS} m)
  # Sections nothing references are dropped: libstdc++.a and our own code
  # are built with one section per function, and each page of code the
  # process never runs is a page the kernel's fault-around need not map
  # (about 0.4 MiB less peak RSS per delivery; bench/run, row 5).
  target_compile_options(ldapmda_dep_headers INTERFACE -ffunction-sections
                                                       -fdata-sections)
  target_link_options(ldapmda_deps INTERFACE -static-libstdc++ -static-libgcc
                                             -Wl,--gc-sections)
else()
  target_link_libraries(ldapmda_deps INTERFACE PkgConfig::GMIME
                        PkgConfig::NETTLE Boost::program_options
                        ${LDAP_LIBRARY} ${LBER_LIBRARY})
endif()
