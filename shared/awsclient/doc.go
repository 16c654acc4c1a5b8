// Package awsclient is the parent of one small package per AWS service
// (dynamodbops, kmsops, sqsops, ecsops, route53ops, arcops), each
// holding the operations homeregion calls on that service, bound to an SDK
// client as method values, behind a type that satisfies the consumer-side
// interfaces of the adapter packages.
//
// Why not hand the *Client itself to an adapter: once anything linked calls
// reflect.Value.MethodByName (the X-Ray SDK's xray package did, through
// protobuf, until package tracing stopped linking it), the Go linker keeps
// every exported method of every type stored in an interface. An SDK client
// held in an interface then drags in all of its operations (ECS alone has
// 270): the failover bootstrap was 20.8 MB for linux/arm64. A method value
// keeps only the operation it names, whatever else the binary links.
//
// One package per service, not one for all: a binary links (and initialises
// at every cold start) only the services it imports. For the same reason a
// binding binds only operations its users call: every operation a
// constructor binds is linked into each binary that calls the constructor.
// Where binaries call different operations of one service, the package has
// one binding per consumer (sqsops.Sender for the orders API,
// sqsops.AttributesGetter for the scale action; dynamodbops.ItemReadWriter
// for the registry of the three triggers, dynamodbops.Ops for the lease
// store of the orders API and the alarm actions).
//
// arcops also points each call at one of an ARC cluster's own endpoints (the
// SDK cannot resolve them) and turns the SDK's retries off, since its caller
// rotates through the endpoints itself. Its Endpoint and State live in
// arccluster, which does not link the SDK, so configuration can hold them in
// a bootstrap that links no ARC client.
package awsclient
