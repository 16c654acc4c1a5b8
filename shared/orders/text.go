package orders

import (
	"unicode"
	"unicode/utf8"
)

// The text an order may carry.
//
// Every string field of an order except sku (which has its own, stricter
// pattern) and country (a code) is checked by CheckText, so that what the API
// accepts is exactly what every hop can carry unchanged: JSON, an SQS message
// body (#x9 | #xA | #xD | #x20-#xD7FF | #xE000-#xFFFD | #x10000-#x10FFFF),
// PostgreSQL TEXT and JSONB (no NUL, no \u0000 escape) and SQLite TEXT.
//
//   - valid UTF-8 and no surrogates (DecodeOrder also refuses a \ud800-style
//     escape that does not form a pair, instead of letting it become U+FFFD);
//   - no C0 control (U+0000-U+001F, NUL included), no DEL and no C1 control
//     (U+007F-U+009F); the note alone may hold tab, line feed and carriage
//     return, the address fields are single lines and hold none;
//   - no noncharacter (U+FDD0-U+FDEF and the last two code points of every
//     plane, U+FFFE, U+FFFF, U+1FFFE ... U+10FFFF);
//   - a required field must be visible: at least one character that is not
//     white space, not a format character (Cf, e.g. U+200B, U+2060, U+FEFF),
//     not another default-ignorable code point (e.g. U+3164, variation
//     selectors) and not a lone combining mark.

// TextAllowedRune reports whether r may appear in an order's text; multiline
// allows tab, line feed and carriage return (the note only).
func TextAllowedRune(r rune, multiline bool) bool {
	switch {
	case r == '\t' || r == '\n' || r == '\r':
		return multiline
	case r < 0x20, r >= 0x7F && r <= 0x9F: // C0, DEL, C1
		return false
	case r >= 0xD800 && r <= 0xDFFF, r > unicode.MaxRune, r < 0: // surrogates, not scalar values
		return false
	case r >= 0xFDD0 && r <= 0xFDEF, r&0xFFFE == 0xFFFE: // noncharacters
		return false
	}
	return true
}

// visibleRune reports whether r shows as something on its own.
func visibleRune(r rune) bool {
	return !unicode.IsSpace(r) &&
		!unicode.In(r, unicode.Cf, unicode.Other_Default_Ignorable_Code_Point, unicode.Variation_Selector,
			unicode.Mn, unicode.Me, unicode.Zs, unicode.Zl, unicode.Zp, unicode.Cc, unicode.Co, unicode.Cs) &&
		unicode.IsGraphic(r)
}

// Text problems reported by CheckText.
const (
	TextOK         = ""
	TextTooLong    = "too long"
	TextBlank      = "blank"
	TextForbidden  = "forbidden character"
	TextInvalidUTF = "invalid UTF-8"
)

// CheckText is the one rule for an order's text (see above): it returns
// TextOK or the problem with s, never quoting s. max counts characters
// (runes); required demands a visible character; multiline allows tab, line
// feed and carriage return.
func CheckText(s string, max int, required, multiline bool) string {
	n := 0
	visible := false
	for i, r := range s {
		if r == utf8.RuneError {
			if _, size := utf8.DecodeRuneInString(s[i:]); size <= 1 {
				return TextInvalidUTF
			}
		}
		if !TextAllowedRune(r, multiline) {
			return TextForbidden
		}
		if !visible && visibleRune(r) {
			visible = true
		}
		n++
	}
	if required && !visible {
		return TextBlank
	}
	if n > max {
		return TextTooLong
	}
	return TextOK
}
