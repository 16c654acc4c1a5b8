package identity

import (
	"fmt"
	"unicode"
)

// golang.org/x/net/idna implements UTS #46, which also accepts characters
// that IDNA2008 (RFC 5892) disallows (those UTS #46 marks NV8 or XV8, such as
// symbols like "☃", or U+3031) and does not check the CONTEXTO rules. So
// U-labels are additionally held to RFC 5892 here. Refusing them never
// merges mailboxes; it only keeps the accepted set within IDNA2008.

// idna2008Exceptions is RFC 5892 section 2.6 (Exceptions), value true for
// PVALID, false for DISALLOWED; CONTEXTO code points are in contextO.
var idna2008Exceptions = map[rune]bool{
	'\u00df': true, '\u03c2': true, '\u06fd': true, '\u06fe': true, '\u0f0b': true, '\u3007': true,
	'\u0640': false, '\u07fa': false, '\u302e': false, '\u302f': false, '\u3031': false,
	'\u3032': false, '\u3033': false, '\u3034': false, '\u3035': false, '\u303b': false,
}

// checkIDNA2008 reports the first code point of the U-label u that is not
// PVALID under RFC 5892, or that is CONTEXTO and fails its rule (RFC 5892
// Appendix A.3 to A.9). ASCII is left to the LDH checks; the ContextJ rules
// (ZWJ, ZWNJ) are moot because both are refused as deviation characters.
func checkIDNA2008(u string) error {
	rs := []rune(u)
	for i, r := range rs {
		if r < 0x80 {
			continue
		}
		if ok, exception := idna2008Exceptions[r]; exception {
			if !ok {
				return fmt.Errorf("%U is not valid in IDNA2008", r)
			}
			continue
		}
		if isContextO(r) {
			if !contextOK(rs, i) {
				return fmt.Errorf("%U is not valid in IDNA2008 in this position", r)
			}
			continue
		}
		if !pvalid(r) {
			return fmt.Errorf("%U is not valid in IDNA2008", r)
		}
	}
	return nil
}

// pvalid reports whether a non-ASCII code point that is no exception is
// PVALID: in LetterDigits (RFC 5892 section 2.1; Lu is left out as it is
// Unstable, section 2.2, and mapped by UTS #46 anyway), and not in
// IgnorableProperties (2.7), IgnorableBlocks (2.8) or OldHangulJamo (2.9).
// Unassigned code points (2.10) are in no category, so they fail.
func pvalid(r rune) bool {
	switch {
	case !unicode.In(r, unicode.Ll, unicode.Lo, unicode.Lm, unicode.Mn, unicode.Mc, unicode.Nd):
		return false
	case unicode.In(r, unicode.Other_Default_Ignorable_Code_Point, unicode.Variation_Selector, unicode.Noncharacter_Code_Point, unicode.White_Space):
		return false
	case 0x20d0 <= r && r <= 0x20ff, // Combining Diacritical Marks for Symbols
		0x1d100 <= r && r <= 0x1d1ff, // Musical Symbols
		0x1d200 <= r && r <= 0x1d24f: // Ancient Greek Musical Notation
		return false
	case 0x1100 <= r && r <= 0x11ff, 0xa960 <= r && r <= 0xa97f, 0xd7b0 <= r && r <= 0xd7ff: // conjoining Hangul jamo
		return false
	}
	return true
}

func isContextO(r rune) bool {
	switch {
	case r == '\u00b7', r == '\u0375', r == '\u05f3', r == '\u05f4', r == '\u30fb',
		0x0660 <= r && r <= 0x0669, 0x06f0 <= r && r <= 0x06f9:
		return true
	}
	return false
}

// contextOK applies the CONTEXTO rule of rs[i] (RFC 5892 Appendix A).
func contextOK(rs []rune, i int) bool {
	before := func() rune {
		if i > 0 {
			return rs[i-1]
		}
		return -1
	}
	after := func() rune {
		if i+1 < len(rs) {
			return rs[i+1]
		}
		return -1
	}
	switch r := rs[i]; {
	case r == '\u00b7': // MIDDLE DOT: between two 'l'
		return before() == 'l' && after() == 'l'
	case r == '\u0375': // GREEK LOWER NUMERAL SIGN: followed by Greek
		return after() >= 0 && unicode.Is(unicode.Greek, after())
	case r == '\u05f3', r == '\u05f4': // HEBREW GERESH, GERSHAYIM: after Hebrew
		return before() >= 0 && unicode.Is(unicode.Hebrew, before())
	case r == '\u30fb': // KATAKANA MIDDLE DOT: in a label with Hiragana, Katakana or Han
		for _, c := range rs {
			if c != '\u30fb' && unicode.In(c, unicode.Hiragana, unicode.Katakana, unicode.Han) {
				return true
			}
		}
		return false
	case 0x0660 <= r && r <= 0x0669: // ARABIC-INDIC DIGITS: not mixed with extended ones
		for _, c := range rs {
			if 0x06f0 <= c && c <= 0x06f9 {
				return false
			}
		}
		return true
	case 0x06f0 <= r && r <= 0x06f9: // EXTENDED ARABIC-INDIC DIGITS: not mixed
		for _, c := range rs {
			if 0x0660 <= c && c <= 0x0669 {
				return false
			}
		}
		return true
	}
	return false
}
