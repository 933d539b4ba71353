# Install layout shared by `cmake --install` and the Debian package.
install(TARGETS ldapmda RUNTIME DESTINATION ${CMAKE_INSTALL_SBINDIR})
install(FILES conf/ldapmda.schema conf/ldapmda.ldif
        DESTINATION ${CMAKE_INSTALL_DATADIR}/ldapmda/schema)
install(FILES packaging/man/ldapmda.8 DESTINATION ${CMAKE_INSTALL_MANDIR}/man8)
install(FILES conf/ldapmda.conf conf/main.cf conf/master.cf
              conf/main-lmtp.cf conf/master-lmtp.cf
              conf/ldapmda-recipients.cf conf/slapd.conf
        DESTINATION ${CMAKE_INSTALL_DOCDIR}/examples)
