# perl_workload.sh runs this: a hash/string/regex workload at the size of a real
# script, as the speed issue describes perl (100k-600k keys, a multi-megabyte
# string built by appends and substitutions, a sort). Usage: perl perl_workload.pl N
use strict; use warnings;
my $n = shift // 300000;
my %h;
for my $i (1 .. $n) { $h{"key$i"} = "value" . ($i * 7) . ("x" x ($i % 50)); }
for my $i (1 .. $n) { $h{"key$i"} .= "-upd" if $i % 3 == 0; }
my $big = "";
for my $k (sort keys %h) { $big .= "$k=$h{$k};"; }
(my $copy = $big) =~ s/value(\d+)/V$1/g;
$copy =~ s/;key/\nkey/g;
my @lines = split /\n/, $copy;
my $total = 0;
for (@lines) { $total += length($_) if /x{10,}/; }
my $out = "";
$out .= uc($_) . "\n" for @lines[0 .. ($#lines < 100000 ? $#lines : 100000)];
delete $h{"key$_"} for grep { $_ % 2 } 1 .. $n;
print length($big) + length($out) + $total + scalar(keys %h), "\n";
