#!/usr/bin/env bash
# Independent check of the signed-measurement known-answer vector, written from
# docs/storage.md ("Probe identity", "Signed measurements") with openssl and
# coreutils only, none of vantage's code:
#
#   key          ed25519 from the 32-byte seed in seed.hex (PKCS #8, as openssl
#                genpkey writes it); public_key is the raw 32-byte key in base64
#   probe_id     the first 16 bytes of SHA-256 of the public key, in hex
#   signature    ed25519 over "vantage measurement v1\n" || measurement bytes
#   envelope     {"format":"vantage-signed-v1","probe_id":"…","public_key":"…",
#                "measurement_uid":"…","signature":"…","measurement":{…}} on one
#                line, the measurement member being the exact signed bytes
#
# It rebuilds the envelope from seed.hex and measurement.json and compares it with
# envelope.jsonl byte for byte, verifies the signature with openssl's standard
# Ed25519 verifier, and checks that a bare signature over the measurement does not
# verify. `make test` runs it; report/kat_test.go checks the same files with Go.
set -euo pipefail
dir=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() {
	echo "kat: FAIL: $*" >&2
	exit 1
}
command -v openssl >/dev/null || fail "openssl is not installed (.ci/deps installs it)"

seed=$(tr -d ' \n' <"$dir/seed.hex")
[[ "$seed" =~ ^[0-9a-f]{64}$ ]] || fail "seed.hex is not 32 bytes of hex"

hex2bin() { printf '%b' "$(sed 's/../\\x&/g')"; }

# PKCS #8 for Ed25519 (RFC 8410): SEQUENCE { INTEGER 0, AlgorithmIdentifier
# { 1.3.101.112 }, OCTET STRING { OCTET STRING seed } }.
printf '302e020100300506032b657004220420%s' "$seed" | hex2bin >"$tmp/key.der"
openssl pkey -inform DER -in "$tmp/key.der" -out "$tmp/key.pem" 2>/dev/null || fail "openssl cannot read the seed as an Ed25519 key"
openssl pkey -in "$tmp/key.pem" -pubout -outform DER -out "$tmp/pub.der"
openssl pkey -in "$tmp/key.pem" -pubout -out "$tmp/pub.pem"
# The SubjectPublicKeyInfo is a 12-byte header and the raw 32-byte key.
tail -c 32 "$tmp/pub.der" >"$tmp/pub.raw"
pub_b64=$(base64 -w0 <"$tmp/pub.raw")
probe_id=$(sha256sum <"$tmp/pub.raw" | cut -c1-32)

# The measurement: one line of JSON, the file's trailing newline not part of it.
m_lines=$(wc -l <"$dir/measurement.json")
[ "$m_lines" -eq 1 ] || fail "measurement.json must be one line ending in \\n (has $m_lines newlines)"
head -c -1 "$dir/measurement.json" >"$tmp/m.json"
[ "$(head -c 1 "$tmp/m.json")" = "{" ] && [ "$(tail -c 1 "$tmp/m.json")" = "}" ] || fail "measurement.json is not a JSON object on one line"
uid=$(grep -o '"measurement_uid":"[^"\\]*"' "$tmp/m.json" | head -1 | sed 's/^"measurement_uid":"//; s/"$//')
[ -n "$uid" ] || fail "measurement.json has no measurement_uid"

# What is signed: the context, then the measurement bytes. Ed25519 is
# deterministic, so the signature itself is a known answer.
{
	printf 'vantage measurement v1\n'
	cat "$tmp/m.json"
} >"$tmp/signed.bin"
openssl pkeyutl -sign -rawin -inkey "$tmp/key.pem" -in "$tmp/signed.bin" -out "$tmp/sig.bin"
sig_b64=$(base64 -w0 <"$tmp/sig.bin")

# The envelope, field by field in the documented order.
{
	printf '{"format":"vantage-signed-v1","probe_id":"%s","public_key":"%s","measurement_uid":"%s","signature":"%s","measurement":' \
		"$probe_id" "$pub_b64" "$uid" "$sig_b64"
	cat "$tmp/m.json"
	printf '}\n'
} >"$tmp/expected.jsonl"

if ! cmp -s "$tmp/expected.jsonl" "$dir/envelope.jsonl"; then
	echo "kat: expected (from docs/storage.md):" >&2
	head -c 400 "$tmp/expected.jsonl" >&2
	echo >&2
	echo "kat: envelope.jsonl:" >&2
	head -c 400 "$dir/envelope.jsonl" >&2
	echo >&2
	fail "envelope.jsonl is not the documented envelope of measurement.json under seed.hex"
fi

# A standard verifier, with the public key alone, over the signature as it stands
# in the golden line.
line=$(head -1 "$dir/envelope.jsonl")
re='^\{"format":"vantage-signed-v1","probe_id":"([0-9a-f]{32})","public_key":"([A-Za-z0-9+/]{43}=)","measurement_uid":"([^"\\]*)","signature":"([A-Za-z0-9+/]{86}==)","measurement":\{'
[[ "$line" =~ $re ]] || fail "envelope.jsonl does not have the documented field order"
printf '%s' "${BASH_REMATCH[4]}" | base64 -d >"$tmp/golden.sig"
openssl pkeyutl -verify -rawin -pubin -inkey "$tmp/pub.pem" -in "$tmp/signed.bin" -sigfile "$tmp/golden.sig" >/dev/null ||
	fail "the signature does not verify over \"vantage measurement v1\\n\" || measurement"
if openssl pkeyutl -verify -rawin -pubin -inkey "$tmp/pub.pem" -in "$tmp/m.json" -sigfile "$tmp/golden.sig" >/dev/null 2>&1; then
	fail "the signature verifies over the bare measurement: the signing context is missing"
fi
echo "kat: envelope.jsonl is the documented envelope (probe_id $probe_id); openssl verifies its signature"
