// Package acl is Kafka's ACL model and authorizer: bindings, filters for
// DescribeAcls/DeleteAcls, an authorizer with the semantics of Kafka's
// StandardAuthorizer, and a durable store of bindings.
//
// Enum values use the numeric codes of the Kafka protocol, so a kmsg value
// converts directly: acl.Operation(kmsg.ACLOperationRead) == acl.Read.
package acl

import (
	"errors"
	"fmt"
	"strings"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// ResourceType is Kafka's ResourceType (kmsg.ACLResourceType).
type ResourceType int8

// Resource types; AnyResource is valid only in filters.
const (
	UnknownResource ResourceType = 0
	AnyResource     ResourceType = 1
	Topic           ResourceType = 2
	Group           ResourceType = 3
	Cluster         ResourceType = 4
	TransactionalID ResourceType = 5
	DelegationToken ResourceType = 6
	User            ResourceType = 7

	numResourceTypes = 8
)

func (t ResourceType) String() string { return kmsg.ACLResourceType(t).String() }

func (t ResourceType) known() bool { return t >= AnyResource && t <= User }

// PatternType is Kafka's PatternType (kmsg.ACLResourcePatternType).
type PatternType int8

// Pattern types; AnyPattern and Match are valid only in filters.
const (
	UnknownPattern PatternType = 0
	AnyPattern     PatternType = 1
	Match          PatternType = 2
	Literal        PatternType = 3
	Prefixed       PatternType = 4
)

func (p PatternType) String() string { return kmsg.ACLResourcePatternType(p).String() }

func (p PatternType) known() bool { return p >= AnyPattern && p <= Prefixed }

// Operation is Kafka's AclOperation (kmsg.ACLOperation).
type Operation int8

// Operations; AnyOperation is valid only in filters.
const (
	UnknownOperation Operation = 0
	AnyOperation     Operation = 1
	All              Operation = 2
	Read             Operation = 3
	Write            Operation = 4
	Create           Operation = 5
	Delete           Operation = 6
	Alter            Operation = 7
	Describe         Operation = 8
	ClusterAction    Operation = 9
	DescribeConfigs  Operation = 10
	AlterConfigs     Operation = 11
	IdempotentWrite  Operation = 12
	CreateTokens     Operation = 13
	DescribeTokens   Operation = 14
)

func (o Operation) String() string { return kmsg.ACLOperation(o).String() }

func (o Operation) known() bool { return o >= AnyOperation && o <= DescribeTokens }

// Permission is Kafka's AclPermissionType (kmsg.ACLPermissionType).
type Permission int8

// Permissions; AnyPermission is valid only in filters.
const (
	UnknownPermission Permission = 0
	AnyPermission     Permission = 1
	Deny              Permission = 2
	Allow             Permission = 3
)

func (p Permission) String() string { return kmsg.ACLPermissionType(p).String() }

func (p Permission) known() bool { return p >= AnyPermission && p <= Allow }

// Well-known names, as in Kafka.
const (
	// ClusterName is the only valid name of the Cluster resource.
	ClusterName = "kafka-cluster"
	// WildcardResource, in a Literal binding, matches every resource name.
	WildcardResource = "*"
	// WildcardPrincipal matches every principal.
	WildcardPrincipal = "User:*"
	// WildcardHost matches every client address.
	WildcardHost = "*"
)

// Binding is one ACL: a resource pattern and an access control entry.
// Principal is "Type:Name" (e.g. "User:alice"); Host is "*" or the client's
// address exactly as the broker formats it.
type Binding struct {
	ResourceType ResourceType
	Name         string
	Pattern      PatternType
	Principal    string
	Host         string
	Operation    Operation
	Permission   Permission
}

func (b Binding) String() string {
	return fmt.Sprintf("(%s:%s:%s, %s from %s %s %s)", b.ResourceType, b.Pattern, b.Name,
		b.Principal, b.Host, b.Permission, b.Operation)
}

// InvalidError is a binding or filter Kafka would refuse with
// INVALID_REQUEST; Error() is Kafka's message. errors.As(err, new(*kerr.Error))
// yields kerr.InvalidRequest.
type InvalidError struct{ Msg string }

func (e *InvalidError) Error() string { return e.Msg }

// Unwrap returns kerr.InvalidRequest, the error code Kafka answers with.
func (e *InvalidError) Unwrap() error { return kerr.InvalidRequest }

func invalid(format string, args ...any) error {
	return &InvalidError{Msg: fmt.Sprintf(format, args...)}
}

// Validate checks b as Kafka 4 checks a CreateAcls entry: first
// AclApis.handleCreateAcls (cluster name, empty name), then
// AclControlManager.validateNewAcl (no UNKNOWN/ANY/MATCH, principal has a
// type). It accepts a Prefixed "*" (which matches only names that start
// with '*') and any host string; ValidateNew adds Kafka 4.4's host rules
// for bindings being created.
func (b Binding) Validate() error {
	if b.ResourceType == Cluster && b.Name != ClusterName {
		return invalid("The only valid name for the CLUSTER resource is %s", ClusterName)
	}
	if b.Name == "" {
		return invalid("Invalid empty resource name")
	}
	if !b.ResourceType.known() || b.ResourceType == AnyResource {
		return invalid("Invalid resourceType %s", b.ResourceType)
	}
	if b.Pattern != Literal && b.Pattern != Prefixed {
		return invalid("Invalid patternType %s", b.Pattern)
	}
	if !b.Operation.known() || b.Operation == AnyOperation {
		return invalid("Invalid operation %s", b.Operation)
	}
	if b.Permission != Allow && b.Permission != Deny {
		return invalid("Invalid permissionType %s", b.Permission)
	}
	if !strings.Contains(b.Principal, ":") {
		return invalid("Could not parse principal from `%s` (no colon is present separating the principal type from the principal name)", b.Principal)
	}
	return nil
}

// UnsupportedError is a binding Kafka would refuse with UNSUPPORTED_VERSION;
// Error() is Kafka's message. errors.As(err, new(*kerr.Error)) yields
// kerr.UnsupportedVersion.
type UnsupportedError struct{ Msg string }

func (e *UnsupportedError) Error() string { return e.Msg }

// Unwrap returns kerr.UnsupportedVersion, the error code Kafka answers with.
func (e *UnsupportedError) Unwrap() error { return kerr.UnsupportedVersion }

// ValidateNew is Validate plus the host rules Kafka 4.4 applies to a binding
// being created (AclControlManager.validateHostPattern): an empty host is
// refused (INVALID_REQUEST), and so is a CIDR range (KIP-1276, a host with
// '/'), with UNSUPPORTED_VERSION and the message of a Kafka whose metadata
// version predates CIDR hosts: this authorizer compares hosts as text, so
// a CIDR DENY would deny nothing. Stored bindings are checked with
// Validate only, so files written before these rules still open.
func (b Binding) ValidateNew() error {
	if err := b.Validate(); err != nil {
		return err
	}
	if b.Host == "" {
		return invalid("Host pattern cannot be null or empty")
	}
	if strings.Contains(b.Host, "/") {
		return &UnsupportedError{Msg: "CIDR-based ACL host patterns require metadata version 4.4-IV1 or higher."}
	}
	return nil
}

// Filter selects bindings for DescribeAcls and DeleteAcls. A nil string
// matches anything; AnyResource, AnyPattern, AnyOperation and AnyPermission
// match anything. Principal and Host compare exactly (a filter for
// "User:alice" does not select "User:*" bindings), as in Kafka's
// AccessControlEntryFilter.
type Filter struct {
	ResourceType ResourceType
	Name         *string
	Pattern      PatternType
	Principal    *string
	Host         *string
	Operation    Operation
	Permission   Permission
}

// AnyFilter matches every binding.
var AnyFilter = Filter{ResourceType: AnyResource, Pattern: AnyPattern, Operation: AnyOperation, Permission: AnyPermission}

// Validate refuses filters with UNKNOWN (or out-of-range) elements, with the
// messages of Kafka's AclControlManager.validateFilter.
func (f Filter) Validate() error {
	if !f.ResourceType.known() || !f.Pattern.known() {
		return invalid("Unknown patternFilter.")
	}
	if !f.Operation.known() || !f.Permission.known() {
		return invalid("Unknown entryFilter.")
	}
	return nil
}

// Matches reports whether f selects b, with the semantics of Kafka's
// ResourcePatternFilter.matches and AccessControlEntryFilter.matches:
// pattern type Match with a name selects Literal bindings with that name,
// the Literal wildcard "*", and Prefixed bindings whose name is a prefix of
// it; AnyPattern with a name selects bindings of any pattern type with
// exactly that name.
func (f Filter) Matches(b Binding) bool {
	if f.ResourceType != AnyResource && f.ResourceType != b.ResourceType {
		return false
	}
	if f.Pattern != AnyPattern && f.Pattern != Match && f.Pattern != b.Pattern {
		return false
	}
	if f.Name != nil {
		name := *f.Name
		if f.Pattern == AnyPattern || f.Pattern == b.Pattern {
			if name != b.Name {
				return false
			}
		} else { // Match
			switch b.Pattern {
			case Literal:
				if name != b.Name && b.Name != WildcardResource {
					return false
				}
			case Prefixed:
				if !strings.HasPrefix(name, b.Name) {
					return false
				}
			default:
				return false
			}
		}
	}
	if f.Principal != nil && *f.Principal != b.Principal {
		return false
	}
	if f.Host != nil && *f.Host != b.Host {
		return false
	}
	if f.Operation != AnyOperation && f.Operation != b.Operation {
		return false
	}
	return f.Permission == AnyPermission || f.Permission == b.Permission
}

// IsInvalid reports whether err is a validation error (INVALID_REQUEST).
func IsInvalid(err error) bool {
	var ie *InvalidError
	return errors.As(err, &ie)
}
