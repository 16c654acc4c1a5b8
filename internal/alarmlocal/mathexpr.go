package alarmlocal

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode"
)

// ErrUnsupported marks a metric math expression using a function or syntax
// the local evaluator does not implement: its alarm is then left to states
// set by hand.
var ErrUnsupported = errors.New("not supported locally")

// Expr is a parsed CloudWatch metric math expression, evaluated one period
// at a time. It implements what CloudWatch's metric math defines for the
// template's alarms
// (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/using-metric-math.html):
// numbers, metric ids, + - * /, the comparisons == != < <= > >= (1 or 0),
// AND/&&, OR/||, NOT/!, IF(condition, a[, b]) and FILL(m, value). A time
// series with no datapoint in the period is missing: arithmetic, comparisons
// and logic over it are missing, FILL gives the filler instead. Division by
// zero is missing too (a gap, as CloudWatch graphs m1/m2 where m2 is 0; the
// user guide does not spell it out), so an alarm reads it per its
// TreatMissingData.
type Expr struct {
	src  string
	root node
}

// operand is one period's value of a sub-expression: a number in the
// expression (scalar) or a time series' datapoint (ok=false: none).
type operand struct {
	v      float64
	ok     bool
	scalar bool
}

type node interface {
	eval(vars func(id string) (Datapoint, error)) (operand, error)
}

// ParseExpr parses src. An unknown function is an error wrapping ErrUnsupported.
func ParseExpr(src string) (*Expr, error) {
	p := &parser{src: src}
	if err := p.lex(); err != nil {
		return nil, fmt.Errorf("expression %q: %w", src, err)
	}
	n, err := p.or()
	if err == nil && p.pos < len(p.toks) {
		err = fmt.Errorf("unexpected %q", p.toks[p.pos].text)
	}
	if err != nil {
		return nil, fmt.Errorf("expression %q: %w", src, err)
	}
	return &Expr{src: src, root: n}, nil
}

// String returns the expression's source.
func (e *Expr) String() string { return e.src }

// IDs returns the metric ids the expression reads.
func (e *Expr) IDs() []string {
	var out []string
	var walk func(n node)
	walk = func(n node) {
		switch n := n.(type) {
		case ref:
			out = append(out, string(n))
		case binary:
			walk(n.l)
			walk(n.r)
		case unary:
			walk(n.x)
		case call:
			for _, a := range n.args {
				walk(a)
			}
		}
	}
	walk(e.root)
	return out
}

// Eval evaluates the expression for one period; vars returns a metric id's
// datapoint (Missing when the metric has none this period).
func (e *Expr) Eval(vars func(id string) (Datapoint, error)) (Datapoint, error) {
	o, err := e.root.eval(vars)
	if err != nil {
		return Datapoint{}, err
	}
	return Datapoint{Value: o.v, Missing: !o.ok}, nil
}

type num float64

func (n num) eval(func(string) (Datapoint, error)) (operand, error) {
	return operand{v: float64(n), ok: true, scalar: true}, nil
}

type ref string

func (r ref) eval(vars func(string) (Datapoint, error)) (operand, error) {
	d, err := vars(string(r))
	if err != nil {
		return operand{}, err
	}
	return operand{v: d.Value, ok: !d.Missing}, nil
}

type binary struct {
	op   string
	l, r node
}

func truth(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func (b binary) eval(vars func(string) (Datapoint, error)) (operand, error) {
	l, err := b.l.eval(vars)
	if err != nil {
		return operand{}, err
	}
	r, err := b.r.eval(vars)
	if err != nil {
		return operand{}, err
	}
	out := operand{scalar: l.scalar && r.scalar}
	if !l.ok || !r.ok {
		return out, nil
	}
	out.ok = true
	switch b.op {
	case "+":
		out.v = l.v + r.v
	case "-":
		out.v = l.v - r.v
	case "*":
		out.v = l.v * r.v
	case "/":
		if r.v == 0 {
			out.ok = false
		} else {
			out.v = l.v / r.v
		}
	case "==":
		out.v = truth(l.v == r.v)
	case "!=":
		out.v = truth(l.v != r.v)
	case "<":
		out.v = truth(l.v < r.v)
	case "<=":
		out.v = truth(l.v <= r.v)
	case ">":
		out.v = truth(l.v > r.v)
	case ">=":
		out.v = truth(l.v >= r.v)
	case "AND":
		out.v = truth(l.v != 0 && r.v != 0)
	case "OR":
		out.v = truth(l.v != 0 || r.v != 0)
	}
	return out, nil
}

type unary struct {
	op string
	x  node
}

func (u unary) eval(vars func(string) (Datapoint, error)) (operand, error) {
	x, err := u.x.eval(vars)
	if err != nil || !x.ok {
		return x, err
	}
	if u.op == "-" {
		x.v = -x.v
	} else {
		x.v = truth(x.v == 0)
	}
	return x, nil
}

type call struct {
	fn   string
	args []node
}

func (c call) eval(vars func(string) (Datapoint, error)) (operand, error) {
	args := make([]operand, len(c.args))
	for i, a := range c.args {
		o, err := a.eval(vars)
		if err != nil {
			return operand{}, err
		}
		args[i] = o
	}
	if c.fn == "FILL" {
		// FILL(m, value): m's datapoint, or the filler's when m has none.
		if args[0].ok || args[0].scalar {
			return args[0], nil
		}
		return operand{v: args[1].v, ok: args[1].ok}, nil
	}
	// IF(condition, a[, b]), as the user guide's "Using IF expressions"
	// defines it: no condition datapoint, no result; a scalar condition
	// picks a branch as a whole; otherwise the chosen branch's value, a
	// series branch with no datapoint counting as 0, except that a false
	// branch with none gives none when the true branch is a scalar; a false
	// condition without b gives none.
	cond, then := args[0], args[1]
	var otherwise *operand
	if len(args) == 3 {
		otherwise = &args[2]
	}
	pick := func(b *operand, zeroIfMissing bool) operand {
		switch {
		case b == nil:
			return operand{}
		case b.ok:
			return operand{v: b.v, ok: true}
		}
		return operand{ok: zeroIfMissing}
	}
	switch {
	case cond.scalar && cond.v != 0:
		return then, nil
	case cond.scalar && otherwise != nil:
		return *otherwise, nil
	case cond.scalar, !cond.ok:
		return operand{}, nil
	case cond.v != 0:
		return pick(&then, true), nil
	}
	return pick(otherwise, !then.scalar), nil
}

// functions are the metric math functions evaluated here, with their
// argument counts.
var functions = map[string][2]int{"IF": {2, 3}, "FILL": {2, 2}}

type token struct {
	kind byte // 'n' number, 'i' identifier, 'o' operator or punctuation
	text string
}

type parser struct {
	src  string
	toks []token
	pos  int
}

func (p *parser) lex() error {
	s := p.src
	for i := 0; i < len(s); {
		c := rune(s[i])
		switch {
		case unicode.IsSpace(c):
			i++
		case unicode.IsDigit(c) || c == '.':
			j := i
			for j < len(s) && (unicode.IsDigit(rune(s[j])) || s[j] == '.' || s[j] == 'e' || s[j] == 'E' ||
				((s[j] == '+' || s[j] == '-') && j > i && (s[j-1] == 'e' || s[j-1] == 'E'))) {
				j++
			}
			p.toks = append(p.toks, token{'n', s[i:j]})
			i = j
		case unicode.IsLetter(c) || c == '_':
			j := i
			for j < len(s) && (unicode.IsLetter(rune(s[j])) || unicode.IsDigit(rune(s[j])) || s[j] == '_') {
				j++
			}
			p.toks = append(p.toks, token{'i', s[i:j]})
			i = j
		default:
			two := ""
			if i+1 < len(s) {
				two = s[i : i+2]
			}
			switch two {
			case "==", "!=", "<=", ">=", "&&", "||":
				p.toks = append(p.toks, token{'o', two})
				i += 2
				continue
			}
			if !strings.ContainsRune("+-*/<>!(),", c) {
				return fmt.Errorf("operator %q: %w", string(c), ErrUnsupported)
			}
			p.toks = append(p.toks, token{'o', string(c)})
			i++
		}
	}
	return nil
}

// accept consumes the next token when it is one of ops (operators, or the
// keywords AND, OR, NOT) and returns it.
func (p *parser) accept(ops ...string) (string, bool) {
	if p.pos >= len(p.toks) {
		return "", false
	}
	t := p.toks[p.pos]
	if t.kind == 'n' {
		return "", false
	}
	for _, o := range ops {
		if t.text == o {
			p.pos++
			return o, true
		}
	}
	return "", false
}

func (p *parser) left(next func() (node, error), norm map[string]string, ops ...string) (node, error) {
	l, err := next()
	if err != nil {
		return nil, err
	}
	for {
		op, ok := p.accept(ops...)
		if !ok {
			return l, nil
		}
		r, err := next()
		if err != nil {
			return nil, err
		}
		if n, ok := norm[op]; ok {
			op = n
		}
		l = binary{op: op, l: l, r: r}
	}
}

func (p *parser) or() (node, error) {
	return p.left(p.and, map[string]string{"||": "OR"}, "OR", "||")
}

func (p *parser) and() (node, error) {
	return p.left(p.cmp, map[string]string{"&&": "AND"}, "AND", "&&")
}

func (p *parser) cmp() (node, error) {
	return p.left(p.add, nil, "==", "!=", "<=", ">=", "<", ">")
}

func (p *parser) add() (node, error) { return p.left(p.mul, nil, "+", "-") }

func (p *parser) mul() (node, error) { return p.left(p.unary, nil, "*", "/") }

func (p *parser) unary() (node, error) {
	if op, ok := p.accept("-", "!", "NOT"); ok {
		x, err := p.unary()
		if err != nil {
			return nil, err
		}
		if op != "-" {
			op = "NOT"
		}
		return unary{op: op, x: x}, nil
	}
	return p.primary()
}

func (p *parser) primary() (node, error) {
	if p.pos >= len(p.toks) {
		return nil, errors.New("unexpected end")
	}
	t := p.toks[p.pos]
	p.pos++
	switch {
	case t.kind == 'n':
		f, err := strconv.ParseFloat(t.text, 64)
		if err != nil {
			return nil, fmt.Errorf("number %q", t.text)
		}
		return num(f), nil
	case t.text == "(":
		n, err := p.or()
		if err != nil {
			return nil, err
		}
		if _, ok := p.accept(")"); !ok {
			return nil, errors.New("missing )")
		}
		return n, nil
	case t.kind != 'i':
		return nil, fmt.Errorf("unexpected %q", t.text)
	}
	if _, ok := p.accept("("); !ok {
		if t.text == "AND" || t.text == "OR" || t.text == "NOT" || !unicode.IsLower(rune(t.text[0])) {
			// Metric ids start with a lower-case letter; the rest are
			// keywords such as REPEAT, LINEAR or PERIOD.
			return nil, fmt.Errorf("keyword %s: %w", t.text, ErrUnsupported)
		}
		return ref(t.text), nil
	}
	arity, known := functions[t.text]
	if !known {
		return nil, fmt.Errorf("function %s: %w", t.text, ErrUnsupported)
	}
	var args []node
	if _, ok := p.accept(")"); !ok {
		for {
			a, err := p.or()
			if err != nil {
				return nil, err
			}
			args = append(args, a)
			if _, ok := p.accept(")"); ok {
				break
			}
			if _, ok := p.accept(","); !ok {
				return nil, fmt.Errorf("%s: missing , or )", t.text)
			}
		}
	}
	if len(args) < arity[0] || len(args) > arity[1] {
		return nil, fmt.Errorf("%s takes %d to %d arguments, not %d", t.text, arity[0], arity[1], len(args))
	}
	return call{fn: t.text, args: args}, nil
}
