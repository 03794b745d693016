package report

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"unicode/utf8"
)

// SignedFormat names the envelope version in every signed line.
const SignedFormat = "vantage-signed-v1"

// signingContext is prepended to the measurement bytes before signing, so that a
// vantage key's signature cannot be replayed as a signature over anything else.
const signingContext = "vantage measurement v1\n"

// Errors returned by Verify. Callers compare with errors.Is.
var (
	ErrBadEnvelope  = errors.New("not a signed measurement envelope")
	ErrBadSignature = errors.New("signature does not verify")
	ErrProbeIDKey   = errors.New("probe_id does not match public_key")
	ErrUIDMismatch  = errors.New("measurement_uid differs between envelope and measurement")
	// ErrNotCanonical: the line parses and its signature verifies, but its bytes are
	// not the ones Sign writes (re-encoded, reordered, re-spaced, or base64 with
	// altered padding bits). The measurement may be authentic, but the line is not
	// the probe's line, and byte-exact idempotent upload depends on it being so.
	ErrNotCanonical = errors.New("envelope is not in the canonical form Sign writes")
)

// Signed is one signed measurement as it travels: one JSON line whose "measurement"
// member holds the exact bytes that were signed. json.RawMessage keeps those bytes as
// they are when a line is decoded, so verification never depends on re-encoding.
type Signed struct {
	Format         string          `json:"format"`
	ProbeID        string          `json:"probe_id"`
	PublicKey      string          `json:"public_key"` // base64 of the 32-byte ed25519 key
	MeasurementUID string          `json:"measurement_uid"`
	Signature      string          `json:"signature"` // base64 of the ed25519 signature
	Measurement    json.RawMessage `json:"measurement"`
}

// ProbeID derives a probe's id from its public key: the first 16 bytes of its
// SHA-256, in hex. Anyone holding the key can recompute it.
func ProbeID(pub ed25519.PublicKey) string {
	sum := sha256.Sum256(pub)
	return hex.EncodeToString(sum[:16])
}

// Sign signs the canonical measurement bytes (see Marshal) and returns the envelope
// line, without a trailing newline. The envelope is written by hand rather than by
// json.Marshal so that the measurement bytes appear in it exactly as signed.
func Sign(priv ed25519.PrivateKey, measurement []byte) ([]byte, error) {
	var head struct {
		MeasurementUID string `json:"measurement_uid"`
	}
	if err := json.Unmarshal(measurement, &head); err != nil {
		return nil, fmt.Errorf("sign: measurement is not JSON: %w", err)
	}
	if head.MeasurementUID == "" {
		return nil, fmt.Errorf("sign: measurement has no measurement_uid")
	}
	if !json.Valid(measurement) || bytes.ContainsAny(measurement, "\n\r") {
		return nil, fmt.Errorf("sign: measurement bytes must be one line of valid JSON")
	}
	// A decoder hands the measurement back without surrounding whitespace, so
	// bytes with any would never verify; invalid UTF-8 would not survive a
	// collector's text storage. Marshal's output has neither.
	if measurement[0] != '{' || measurement[len(measurement)-1] != '}' || !utf8.Valid(measurement) {
		return nil, fmt.Errorf("sign: measurement bytes must be a JSON object without surrounding whitespace, in valid UTF-8")
	}
	pub := priv.Public().(ed25519.PublicKey)
	sig := ed25519.Sign(priv, signedBytes(measurement))
	return encodeEnvelope(ProbeID(pub), base64.StdEncoding.EncodeToString(pub), head.MeasurementUID,
		base64.StdEncoding.EncodeToString(sig), measurement), nil
}

// encodeEnvelope writes the one canonical form of an envelope.
func encodeEnvelope(probeID, publicKey, uid, signature string, measurement []byte) []byte {
	var buf bytes.Buffer
	buf.Grow(len(measurement) + 320)
	buf.WriteString(`{"format":`)
	writeJSONString(&buf, SignedFormat)
	buf.WriteString(`,"probe_id":`)
	writeJSONString(&buf, probeID)
	buf.WriteString(`,"public_key":`)
	writeJSONString(&buf, publicKey)
	buf.WriteString(`,"measurement_uid":`)
	writeJSONString(&buf, uid)
	buf.WriteString(`,"signature":`)
	writeJSONString(&buf, signature)
	buf.WriteString(`,"measurement":`)
	buf.Write(measurement)
	buf.WriteString("}")
	return buf.Bytes()
}

func writeJSONString(buf *bytes.Buffer, s string) {
	b, _ := json.Marshal(s) // a string always encodes
	buf.Write(b)
}

func signedBytes(measurement []byte) []byte {
	out := make([]byte, 0, len(signingContext)+len(measurement))
	out = append(out, signingContext...)
	return append(out, measurement...)
}

// ParseSigned decodes one envelope line without verifying it.
func ParseSigned(line []byte) (*Signed, error) {
	var s Signed
	if err := json.Unmarshal(line, &s); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadEnvelope, err)
	}
	if s.Format != SignedFormat {
		return nil, fmt.Errorf("%w: format %q, want %q", ErrBadEnvelope, s.Format, SignedFormat)
	}
	if len(s.Measurement) == 0 || s.Measurement[0] != '{' {
		return nil, fmt.Errorf("%w: measurement is not a JSON object", ErrBadEnvelope)
	}
	return &s, nil
}

// Verify decodes one envelope line and checks, with nothing but the line itself,
// that the signature covers the measurement bytes, that probe_id derives from the
// public key, that both measurement_uid values agree, and that the line is byte for
// byte the one Sign wrote (ErrNotCanonical otherwise).
func Verify(line []byte) (*Signed, error) {
	s, err := ParseSigned(line)
	if err != nil {
		return nil, err
	}
	if err := s.Check(); err != nil {
		return nil, err
	}
	// QUIRK: encoding/json matches keys case-insensitively, keeps the last of
	// duplicate keys and ignores whitespace, so many different lines decode to this
	// envelope. Only one of them is the probe's.
	if !bytes.Equal(line, encodeEnvelope(s.ProbeID, s.PublicKey, s.MeasurementUID, s.Signature, s.Measurement)) {
		return nil, ErrNotCanonical
	}
	return s, nil
}

// Check verifies an already parsed envelope (see Verify).
func (s *Signed) Check() error {
	// Strict: the non-zero padding bits that lenient base64 ignores would let the
	// same key or signature be written several ways.
	pub, err := base64.StdEncoding.Strict().DecodeString(s.PublicKey)
	if err != nil || len(pub) != ed25519.PublicKeySize {
		return fmt.Errorf("%w: public_key is not a base64 ed25519 key", ErrBadEnvelope)
	}
	sig, err := base64.StdEncoding.Strict().DecodeString(s.Signature)
	if err != nil || len(sig) != ed25519.SignatureSize {
		return fmt.Errorf("%w: signature is not a base64 ed25519 signature", ErrBadEnvelope)
	}
	if ProbeID(pub) != s.ProbeID {
		return ErrProbeIDKey
	}
	if !ed25519.Verify(pub, signedBytes(s.Measurement), sig) {
		return ErrBadSignature
	}
	var head struct {
		MeasurementUID string `json:"measurement_uid"`
	}
	if err := json.Unmarshal(s.Measurement, &head); err != nil {
		return fmt.Errorf("%w: measurement: %v", ErrBadEnvelope, err)
	}
	if head.MeasurementUID != s.MeasurementUID {
		return ErrUIDMismatch
	}
	return nil
}
