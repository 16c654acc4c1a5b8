// Package iso3166 is the one home of the ISO 3166-1 alpha-2 country codes
// homeregion accepts: in the residency policy (shared/residency), in the
// custom:country attribute (shared/triggers) and in an order's delivery
// address (shared/orders).
package iso3166

// codes lists the officially assigned ISO 3166-1 alpha-2 codes (249),
// sorted, each followed by one space.
const codes = "" +
	"AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ " +
	"BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS BT BV BW BY BZ " +
	"CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ " +
	"DE DJ DK DM DO DZ " +
	"EC EE EG EH ER ES ET " +
	"FI FJ FK FM FO FR " +
	"GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY " +
	"HK HM HN HR HT HU " +
	"ID IE IL IM IN IO IQ IR IS IT " +
	"JE JM JO JP " +
	"KE KG KH KI KM KN KP KR KW KY KZ " +
	"LA LB LC LI LK LR LS LT LU LV LY " +
	"MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ " +
	"NA NC NE NF NG NI NL NO NP NR NU NZ " +
	"OM " +
	"PA PE PF PG PH PK PL PM PN PR PS PT PW PY " +
	"QA " +
	"RE RO RS RU RW " +
	"SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ " +
	"TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ " +
	"UA UG UM US UY UZ " +
	"VA VC VE VG VI VN VU " +
	"WF WS " +
	"YE YT " +
	"ZA ZM ZW "

// Assigned reports whether cc is an officially assigned ISO 3166-1 alpha-2
// code, upper-case as the standard writes it ("DE", not "de"). It scans a
// constant: no table is built at cold start.
func Assigned(cc string) bool {
	if len(cc) != 2 || cc[0] < 'A' || cc[0] > 'Z' || cc[1] < 'A' || cc[1] > 'Z' {
		return false
	}
	for i := 0; i+1 < len(codes); i += 3 {
		if codes[i] == cc[0] && codes[i+1] == cc[1] {
			return true
		}
	}
	return false
}
