#!/usr/bin/perl
# statlat.pl FILE N: reads FILE (the mount's status) again and again, like
# `cat status`, and keeps the time of each read (open, read, close) that
# saw an operation "In Progress", until it has N of them.  Prints
# "count p50_ms p99_ms max_ms".
use strict;
use warnings;
use Time::HiRes qw(time);

my ($file, $n) = @ARGV;
my @lat;
while (@lat < $n) {
	my $t = time;
	open(my $fh, '<', $file) or die "$file: $!\n";
	local $/;
	my $s = <$fh>;
	close($fh);
	my $d = time - $t;
	push @lat, $d * 1000 if defined $s && $s =~ /"In Progress"/;
}
@lat = sort { $a <=> $b } @lat;
my $p = sub { $lat[int(($#lat) * $_[0] + 0.5)] };
printf "%d %.3f %.3f %.3f\n", scalar @lat, $p->(0.5), $p->(0.99), $lat[-1];
