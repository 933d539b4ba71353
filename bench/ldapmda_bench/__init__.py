"""The benchmark behind bench/run, in parts:

  common    constants, the work directory, the processes it starts
  messages  the messages, and the LDIF and LMTP forms of them
  servers   slapd (and a two-provider pair), dovecot, a small LDAP poller
  cases     the measurements
  report    the table, the chart and docs/BENCHMARKS.md
"""
