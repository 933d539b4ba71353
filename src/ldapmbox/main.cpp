// ldapmbox: the mailbox companion command of ldapmda; all logic is in the
// library (ldapmbox.h).
#include "ldapmbox/ldapmbox.h"

int main(int argc, char** argv) { return ldapmda::RunLdapmbox(argc, argv); }
