package sender

import (
	"context"
	"errors"
)

// Channel is how a message travels.
type Channel string

const (
	Email Channel = "email"
	SMS   Channel = "sms"   // issue 4
	Voice Channel = "voice" // issue 4
)

// Message is one message to one recipient. Bodies are rendered before
// enqueueing; To is always read from a stored, proven destination.
type Message struct {
	Channel Channel `json:"channel"`
	To      string  `json:"to"`
	Subject string  `json:"subject,omitempty"`
	Text    string  `json:"text"`           // plain text (email), SMS text, or the words a call says
	HTML    string  `json:"html,omitempty"` // email only
	// Extension is dialled as DTMF after a voice call connects (office
	// phone, issue 4).
	Extension string `json:"extension,omitempty"`
	// Lang is the BCP 47 language of the text (voice calls choose a voice).
	Lang string `json:"lang,omitempty"`
	// Kind names the message for logs and metrics ("code", "notify",
	// ...); never its content.
	Kind string `json:"kind,omitempty"`
}

// Sender delivers messages of one channel.
type Sender interface {
	Channel() Channel
	Send(ctx context.Context, m Message) error
}

// ErrPermanent wraps a failure that retrying cannot fix (bad address,
// rejected recipient); the queue drops the message instead of retrying.
var ErrPermanent = errors.New("sender: permanent failure")

// ErrNoSender means no sender is configured for the message's channel.
var ErrNoSender = errors.New("sender: no sender for channel")
