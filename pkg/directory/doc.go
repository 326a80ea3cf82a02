// Package directory is the source port: the domain types of what g2msync reads
// from Microsoft Entra ID, and the contract a reader of them must keep.
//
// It must not import msgraph-sdk-go, azidentity or any other SDK: the engine and
// its tests depend on these types, and the Graph implementation lives in the leaf
// package directory/graph so that only cmd/g2msync pays for compiling the SDK.
package directory
