# SPDX-License-Identifier: GPL-2.0
# Sourced by deps.sh and kernel-root.sh: the Debian mirror this machine's apt
# sources already use, so that no mirror host name is written anywhere.

# The first URI that serves the plain "bookworm" suite (not -security).
mirror_from_sources() {
	for f in /etc/apt/sources.list.d/*.sources; do
		[ -f "$f" ] || continue
		awk '
			/^[ \t]*$/ { if (uri != "" && suite) { print uri; exit } uri = ""; suite = 0; next }
			/^URIs:/   { uri = $2 }
			/^Suites:/ { for (i = 2; i <= NF; i++) if ($i == "bookworm") suite = 1 }
			END        { if (uri != "" && suite) print uri }
		' "$f"
	done
	for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
		[ -f "$f" ] || continue
		awk '$1 == "deb" {
			i = 2; if ($i ~ /^\[/) while ($i !~ /\]$/) i++; if ($2 ~ /^\[/) i++
			if ($(i + 1) == "bookworm") print $i
		}' "$f"
	done
}
