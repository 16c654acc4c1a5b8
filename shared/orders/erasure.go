package orders

import (
	"crypto/sha256"
	"encoding/base64"
	"time"
)

// ErasureVersion is version 3 of the queue message: an erasure instruction
// (SealedErasure) that the regional erasure worker sends through the orders
// queue to every site database of the region. A site that receives it
// deletes every row of the owner, keeps a pseudonymous tombstone (Pseudonym)
// so that no later message of that owner is stored, and confirms in the
// orders table.
const ErasureVersion = 3

// StatusErased is the status of an order whose owner was erased: its status
// record is a tombstone without owner (ordertable), kept while a message of
// the order may still be queued, so that no consumer can claim it. It is
// terminal and is never shown to a client (an erased order is 404).
const StatusErased Status = "ERASED"

// SealedErasure is the version 3 queue message body:
// {"version":3,"erasureId","region","createdAt","sealed":{"kid","ct"}}. The
// owner travels only sealed (ErasurePayload), like an order.
type SealedErasure struct {
	Version   int       `json:"version"`
	ErasureID string    `json:"erasureId"`
	Region    string    `json:"region"`
	CreatedAt time.Time `json:"createdAt"`
	Sealed    Box       `json:"sealed"`
}

// ErasurePayload is what a SealedErasure's ciphertext holds.
type ErasurePayload struct {
	Owner string `json:"owner"` // the erased user's Cognito sub
}

// Erasure is an erasure instruction as a site receives it, opened.
type Erasure struct {
	Version   int
	ErasureID string
	Region    string
	Owner     string // the erased user's Cognito sub
	CreatedAt time.Time
}

// MessageAttrErasureID is the SQS message attribute carrying the erasure id
// of a version 3 message.
const MessageAttrErasureID = "erasureId"

// Pseudonym is the name under which an erasure remembers an owner without
// keeping the owner's identifier: base64url (no padding) of
// SHA-256("homeregion/erased-owner\n" + owner). The owner (a Cognito sub) is
// a random UUID, so the pseudonym can be recomputed only by whoever already
// holds the sub (the user's own token, a queued message of that owner), and
// names nobody once the user is deleted. The orders table keys the erasure
// record with it and the sites key their tombstones with it.
func Pseudonym(owner string) string {
	h := sha256.New()
	h.Write([]byte("homeregion/erased-owner\n"))
	h.Write([]byte(owner))
	var sum [sha256.Size]byte
	return base64.RawURLEncoding.EncodeToString(h.Sum(sum[:0]))
}
