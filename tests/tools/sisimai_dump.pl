#!/usr/bin/perl
# sisimai_dump.pl: what Sisimai (libsisimai-perl 4.25) finds in bounce
# messages, for comparing ldapmda's ParseReport with an independent parser
# (tests/sisimai_test.cpp).
#
# Usage: sisimai_dump.pl FILE.eml...
# Prints, per file, one line per bounced recipient:
#   FILE <TAB> recipient address <TAB> deliverystatus <TAB> reason
# and, when Sisimai finds nothing in a file, one line with an empty address
# and status and the reason "(none)", so that every file yields output.
# Exits 2 when Sisimai cannot be loaded, 1 when a file cannot be read.
use strict;
use warnings;

eval { require Sisimai; 1 } or do {
    print STDERR "sisimai_dump.pl: Sisimai is not installed: $@";
    exit 2;
};

my $status = 0;
for my $file (@ARGV) {
    my $text;
    if (open(my $fh, '<:raw', $file)) {
        local $/;
        $text = <$fh>;
        close $fh;
    } else {
        print STDERR "sisimai_dump.pl: $file: $!\n";
        $status = 1;
        next;
    }
    # Sisimai reads a scalar as one message unless it starts with an mbox
    # "From " line, in which case it splits it at every "^From ". A message
    # file is one message: give it a separator line of its own, so that a
    # "From " line inside it cannot split it either.
    $text =~ s/^From />From /mg unless $text =~ /\AFrom /;
    $text = "From MAILER-DAEMON Thu Jan  1 00:00:00 1970\n" . $text
        unless $text =~ /\AFrom /;
    $text =~ s/\r\n/\n/g;

    my $found = Sisimai->make(\$text) // [];
    for my $e (@$found) {
        printf "%s\t%s\t%s\t%s\n", $file, $e->recipient->address,
            $e->deliverystatus // '', $e->reason // '';
    }
    printf "%s\t\t\t(none)\n", $file unless @$found;
}
exit $status;
