// Package graph reads the users and groups assigned to an enterprise
// application from Microsoft Graph: the Graph implementation of
// directory.Source. It is the only package of g2msync that imports
// msgraph-sdk-go and azidentity, so that only cmd/g2msync pays the minutes
// and gigabytes the SDK costs to compile; the engine and its tests use the
// SDK-free port in pkg/directory.
//
// A read costs, in Graph calls: one for the service principal (its app
// roles), ceil(assignments/999) for appRoleAssignedTo, ceil(members/999) per
// assigned group, and ceil(remaining directly assigned users/1000) for
// directoryObjects/getByIds, plus the token calls azidentity makes. Any
// error on any page fails the whole read: a partial list would look like
// unassignments.
package graph
