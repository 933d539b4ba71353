# Install layout shared by `cmake --install`, CPack (cmake/Packaging.cmake)
# and the Debian package (packaging/debian), relative to the prefix:
#   sbin/ldapmda, bin/ldapmbox                     the programs
#   share/man/man{1,5,8}/                          packaging/man/*.{1,5,8}
#   share/ldapmda/schema/ldapmda.{schema,ldif}     slapd.conf and cn=config
#   share/doc/ldapmda/examples/                    Postfix and slapd examples
#   share/doc/ldapmda/copyright                    LICENSE
#   /etc/ldapmda/ldapmda.conf                      see below
# and, with LDAPMDA_DOVECOT (the Debian package dovecot-ldapmda):
#   lib/dovecot/modules/lib20_ldapmda_plugin.so    Dovecot's module_dir
#   share/doc/dovecot-ldapmda/examples/            the private Dovecot
install(TARGETS ldapmda RUNTIME DESTINATION ${CMAKE_INSTALL_SBINDIR})
# ldapmbox(1) is a command for administrators and migrations, not a daemon.
if(TARGET ldapmbox)
  install(TARGETS ldapmbox RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
endif()

install(FILES conf/ldapmda.schema conf/ldapmda.ldif
        DESTINATION ${CMAKE_INSTALL_DATADIR}/ldapmda/schema)

# Every man page there is, each in its section's directory.
file(GLOB ldapmda_man_pages CONFIGURE_DEPENDS
     ${PROJECT_SOURCE_DIR}/packaging/man/*.[1-8])
foreach(page IN LISTS ldapmda_man_pages)
  string(REGEX MATCH "[1-8]$" section "${page}")
  install(FILES ${page} DESTINATION ${CMAKE_INSTALL_MANDIR}/man${section})
endforeach()

file(GLOB ldapmda_examples CONFIGURE_DEPENDS
     ${PROJECT_SOURCE_DIR}/conf/*.cf ${PROJECT_SOURCE_DIR}/conf/slapd*.conf
     ${PROJECT_SOURCE_DIR}/conf/slapd*.ldif)
install(FILES conf/ldapmda.conf ${ldapmda_examples}
        DESTINATION ${CMAKE_INSTALL_DOCDIR}/examples)
install(FILES LICENSE DESTINATION ${CMAKE_INSTALL_DOCDIR} RENAME copyright)

# The Dovecot driver goes where Dovecot 2.3 looks for plugins (Debian's
# dovecot_moduledir, /usr/lib/dovecot/modules: not multiarch), its man
# page is dovecot-ldapmda(7) above, its examples have a directory of
# their own, as the Debian package has.
if(TARGET ldapmda_dovecot)
  install(TARGETS ldapmda_dovecot LIBRARY DESTINATION lib/dovecot/modules)
  install(FILES conf/dovecot-ldapmda.conf conf/dovecot-ldapmda-ldap.conf.ext
          DESTINATION ${CMAKE_INSTALL_DATADIR}/doc/dovecot-ldapmda/examples)
endif()

# The configuration file, where the binary looks by default
# (/etc/ldapmda/ldapmda.conf) when the prefix is /usr, as for the Debian
# package and CPack; under <prefix>/etc otherwise, so that `cmake --install
# --prefix DIR` writes nothing outside DIR. Decided at install time because
# --prefix and CPack change the prefix after configuring. An absolute
# CMAKE_INSTALL_SYSCONFDIR (debhelper passes /etc) is used as given. The
# directory is 0755: admins put bind.pw, readable by the pipe(8) user only,
# next to the file, which holds no secret.
install(CODE "set(ldapmda_sysconfdir [[${CMAKE_INSTALL_SYSCONFDIR}]])")
install(CODE [[
  if(NOT IS_ABSOLUTE "${ldapmda_sysconfdir}")
    if(CMAKE_INSTALL_PREFIX STREQUAL "/usr")
      set(ldapmda_sysconfdir /etc)
    else()
      set(ldapmda_sysconfdir "${CMAKE_INSTALL_PREFIX}/${ldapmda_sysconfdir}")
    endif()
  endif()
]])
install(CODE "file(INSTALL [[${PROJECT_SOURCE_DIR}/conf/ldapmda.conf]]
  DESTINATION \"\${ldapmda_sysconfdir}/ldapmda\"
  FILE_PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ)")
