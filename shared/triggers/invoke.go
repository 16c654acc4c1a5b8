package triggers

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"reflect"
	"strings"
	"time"
)

// Invoke makes *PreSignUp a lambda.Handler: lambda.Start(h) and
// lambda.NewHandler(h).Invoke decode the payload here, so a malformed event
// (empty payload, not JSON, wrong types) gets an error that says what is
// wrong, where aws-lambda-go's own decoding would answer "EOF".
func (h *PreSignUp) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	return invoke(ctx, "PreSignUp", payload, h.Handle, h.log)
}

// Invoke makes *PreAuth a lambda.Handler (see PreSignUp.Invoke).
func (h *PreAuth) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	return invoke(ctx, "PreAuthentication", payload, h.Handle, h.log)
}

// Invoke makes *PostConfirmation a lambda.Handler (see PreSignUp.Invoke).
func (h *PostConfirmation) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	return invoke(ctx, "PostConfirmation", payload, h.Handle, h.log)
}

// invoke decodes payload into an event of type E, runs handle and encodes
// its answer: the JSON path every trigger shares. A payload that does not
// decode is answered and logged by finish like any malformed event.
func invoke[E any](ctx context.Context, trigger string, payload []byte, handle func(context.Context, E) (E, error), log *slog.Logger) ([]byte, error) {
	var ev E
	if err := decodeEvent(trigger, payload, &ev); err != nil {
		return nil, finish(ctx, logger(log), invocation{trigger: trigger, start: time.Now()}, err, "")
	}
	out, err := handle(ctx, ev)
	if err != nil {
		return nil, err
	}
	return json.Marshal(out)
}

// decodeEvent decodes one JSON object into v with errors that name the
// problem; the handler then validates the content (a "{}" decodes fine).
func decodeEvent(trigger string, payload []byte, v any) error {
	p := bytes.TrimSpace(payload)
	if len(p) == 0 {
		return invalid(trigger, "empty payload")
	}
	if p[0] != '{' && !bytes.Equal(p, []byte("null")) {
		return invalid(trigger, "want a JSON object")
	}
	err := json.Unmarshal(p, v)
	var typeErr *json.UnmarshalTypeError
	var syntaxErr *json.SyntaxError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &typeErr):
		return invalid(trigger, "%s must be %s, not a JSON %s", fieldName(typeErr), kindName(typeErr.Type), typeErr.Value)
	case errors.As(err, &syntaxErr):
		return invalid(trigger, "malformed JSON at byte %d: %v", syntaxErr.Offset, err)
	default:
		return invalid(trigger, "%v", err)
	}
}

func fieldName(e *json.UnmarshalTypeError) string {
	f := strings.TrimPrefix(e.Field, "CognitoEventUserPoolsHeader.")
	if f == "" {
		return "the event"
	}
	return f
}

func kindName(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Struct, reflect.Map:
		return "an object"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64,
		reflect.Float32, reflect.Float64:
		return "a number"
	}
	return t.String()
}
