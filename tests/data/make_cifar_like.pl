# make_cifar_like.pl DIR N [LABELS] - CIFAR-shaped test data in two formats
# with the same pixels: DIR/x.npy (uint8 (N, 3, 32, 32)), DIR/y.npy (uint8
# (N,)) and DIR/cifar-10-batches-bin/test_batch.bin (CIFAR-10 binary
# records). Pixels come from a fixed LCG (seed 12345), so every run writes
# the same bytes; LABELS is a comma-separated list (default all 0). Perl is
# part of every Debian system (perl-base); the tests need no Python.
use strict;
use warnings;
my ($d, $n, $labs) = @ARGV;
die "usage: make_cifar_like.pl DIR N [LABELS]\n" unless defined $n;
my @y = defined $labs ? split(/,/, $labs) : (0) x $n;
die "expected $n labels\n" unless @y == $n;
my $s = 12345;
my $px = "";
for my $i (0 .. $n * 3072 - 1) {
  $s = ($s * 1103515245 + 12345) % 2147483648;
  $px .= chr(($s >> 16) & 255);
}
sub npy { my ($path, $shape, $data) = @_;
  my $h = "{'descr': '|u1', 'fortran_order': False, 'shape': $shape, }";
  $h .= " " x (63 - (10 + length($h)) % 64) . "\n";
  open(my $f, ">", $path) or die; binmode $f;
  print $f "\x93NUMPY\x01\x00", pack("v", length $h), $h, $data; close $f; }
npy("$d/x.npy", "($n, 3, 32, 32)", $px);
npy("$d/y.npy", "($n,)", pack("C*", @y));
mkdir "$d/cifar-10-batches-bin";
open(my $c, ">", "$d/cifar-10-batches-bin/test_batch.bin") or die; binmode $c;
for my $i (0..$n-1) { print $c pack("C", $y[$i]), substr($px, $i*3072, 3072); }
close $c;
