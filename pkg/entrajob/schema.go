package entrajob

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// Limits of what the reader accepts: a real schema is tens of kilobytes
// with a few dozen mappings, so these only stop a hostile or broken input.
const (
	// MaxInput is the largest schema or job list read, in bytes.
	MaxInput = 8 << 20
	// maxDepth is how deeply function calls may nest in a mapping source:
	// g2msync's expressions nest at most 32 deep.
	maxDepth = 32
	// maxItems bounds each list: rules, object mappings, attribute
	// mappings, filter groups, clauses, values, parameters.
	maxItems = 1000
)

// Schema is a synchronizationSchema, as GET
// /servicePrincipals/{id}/synchronization/jobs/{jobId}/schema returns it and
// the portal's schema editor downloads it. Only what the translation reads
// is kept; other properties (directories, @odata.*) are ignored.
type Schema struct {
	ID      string `json:"id"`
	Version string `json:"version"`
	Rules   []Rule `json:"synchronizationRules"`
}

// Rule is a synchronizationRule: the mappings from one directory to another.
type Rule struct {
	ID                  string          `json:"id"`
	Name                string          `json:"name"`
	SourceDirectoryName string          `json:"sourceDirectoryName"`
	TargetDirectoryName string          `json:"targetDirectoryName"`
	ObjectMappings      []ObjectMapping `json:"objectMappings"`
}

// ObjectMapping is an objectMapping: how one kind of object flows.
type ObjectMapping struct {
	Name              string             `json:"name"`
	Enabled           *bool              `json:"enabled"`
	FlowTypes         string             `json:"flowTypes"` // objectFlowTypes: "Add, Update, Delete", or None
	SourceObjectName  string             `json:"sourceObjectName"`
	TargetObjectName  string             `json:"targetObjectName"`
	Scope             *Filter            `json:"scope"`
	AttributeMappings []AttributeMapping `json:"attributeMappings"`
}

// Filter is a filter: groups ORed, each group's clauses ANDed.
type Filter struct {
	Groups               []FilterGroup `json:"groups"`
	CategoryFilterGroups []FilterGroup `json:"categoryFilterGroups"`
	InputFilterGroups    []FilterGroup `json:"inputFilterGroups"`
}

// FilterGroup is a filterGroup: a named set of clauses that must all hold.
type FilterGroup struct {
	Name    string         `json:"name"`
	Clauses []FilterClause `json:"clauses"`
}

// FilterClause is a filterClause: one test of a source attribute.
type FilterClause struct {
	OperatorName      string         `json:"operatorName"`
	SourceOperandName string         `json:"sourceOperandName"`
	TargetOperand     *FilterOperand `json:"targetOperand"`
}

// FilterOperand is a filterOperand: the values a clause compares with.
type FilterOperand struct {
	Values []string `json:"values"`
}

// AttributeMapping is an attributeMapping: one target attribute's source.
type AttributeMapping struct {
	TargetAttributeName string  `json:"targetAttributeName"`
	DefaultValue        *string `json:"defaultValue"`
	FlowBehavior        string  `json:"flowBehavior"` // FlowWhenChanged (default) or FlowAlways
	// FlowType is Always (default), ObjectAddOnly, MultiValueAddOnly,
	// ValueAddOnly or AttributeAddOnly.
	FlowType string `json:"flowType"`
	// MatchingPriority above 0 makes the attribute a matching one, lowest first.
	MatchingPriority int32   `json:"matchingPriority"`
	Source           *Source `json:"source"`
}

// Source is an attributeMappingSource: an Attribute, a Constant or a
// Function of further sources; Expression is the same as Entra's
// expression language writes it.
type Source struct {
	Type       string  `json:"type"` // Attribute (default), Constant, Function
	Name       *string `json:"name"`
	Expression *string `json:"expression"`
	Parameters []Param `json:"parameters"`
}

// Param is a stringKeyAttributeMappingSourceValuePair: one argument of a function.
type Param struct {
	Key   string  `json:"key"`
	Value *Source `json:"value"`
}

// Job is a synchronizationJob: what runs the schema, and how it fares.
type Job struct {
	ID         string    `json:"id"`
	TemplateID string    `json:"templateId"`
	Schedule   *Schedule `json:"schedule"`
	Status     *Status   `json:"status"`
}

// Schedule is a synchronizationSchedule.
type Schedule struct {
	Interval string `json:"interval"` // ISO 8601 duration, e.g. PT40M
	State    string `json:"state"`    // Active, Disabled, Paused
}

// Status is a synchronizationStatus.
type Status struct {
	// Code is NotConfigured, NotRun, Active, Paused or Quarantine.
	Code                            string     `json:"code"`
	CountSuccessiveCompleteFailures int64      `json:"countSuccessiveCompleteFailures"`
	LastExecution                   *Execution `json:"lastExecution"`
	LastSuccessfulExecution         *Execution `json:"lastSuccessfulExecution"`
	Quarantine                      *struct {
		Reason string `json:"reason"`
	} `json:"quarantine"`
}

// Execution is a synchronizationTaskExecution: one run of the job.
type Execution struct {
	State     string `json:"state"` // Succeeded, Failed, EntryLevelErrors
	TimeBegan string `json:"timeBegan"`
	TimeEnded string `json:"timeEnded"`
	Error     *struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// ParseSchema reads a synchronizationSchema: a JSON object, at most
// MaxInput bytes, lists of at most 1000 items. Unknown properties are
// ignored (Graph adds @odata.* and more over time); a property of the
// wrong type is an error.
func ParseSchema(data []byte) (*Schema, error) {
	var s Schema
	if err := decode(data, &s); err != nil {
		return nil, fmt.Errorf("read the synchronization schema: %w", err)
	}
	if len(s.Rules) > maxItems {
		return nil, fmt.Errorf("read the synchronization schema: %d synchronization rules, more than %d", len(s.Rules), maxItems)
	}
	for _, r := range s.Rules {
		if len(r.ObjectMappings) > maxItems {
			return nil, fmt.Errorf("read the synchronization schema: rule %s has %d object mappings, more than %d", quote(r.Name), len(r.ObjectMappings), maxItems)
		}
		for _, om := range r.ObjectMappings {
			if err := om.bounded(); err != nil {
				return nil, fmt.Errorf("read the synchronization schema: object mapping %s: %w", quote(om.Name), err)
			}
		}
	}
	if len(s.Rules) == 0 {
		return nil, errors.New("read the synchronization schema: it has no synchronizationRules; is this the schema of a provisioning job (GET …/synchronization/jobs/{jobId}/schema)?")
	}
	return &s, nil
}

func (om *ObjectMapping) bounded() error {
	if len(om.AttributeMappings) > maxItems {
		return fmt.Errorf("%d attribute mappings, more than %d", len(om.AttributeMappings), maxItems)
	}
	if om.Scope == nil {
		return nil
	}
	if len(om.Scope.Groups) > maxItems {
		return fmt.Errorf("%d scoping filter groups, more than %d", len(om.Scope.Groups), maxItems)
	}
	for _, g := range om.Scope.Groups {
		if len(g.Clauses) > maxItems {
			return fmt.Errorf("scoping filter %s has %d clauses, more than %d", quote(g.Name), len(g.Clauses), maxItems)
		}
	}
	return nil
}

// ParseJobs reads the reply of GET /servicePrincipals/{id}/synchronization/jobs.
func ParseJobs(data []byte) ([]Job, error) {
	var page struct {
		Value *[]Job `json:"value"`
	}
	if err := decode(data, &page); err != nil {
		return nil, fmt.Errorf("read the synchronization jobs: %w", err)
	}
	if page.Value == nil {
		return nil, errors.New("read the synchronization jobs: the reply has no value collection")
	}
	if len(*page.Value) > maxItems {
		return nil, fmt.Errorf("read the synchronization jobs: %d jobs, more than %d", len(*page.Value), maxItems)
	}
	return *page.Value, nil
}

// decode reads exactly one JSON object of at most MaxInput bytes.
func decode(data []byte, v any) error {
	if len(data) > MaxInput {
		return fmt.Errorf("%d bytes, more than the %d a schema can have", len(data), MaxInput)
	}
	d := json.NewDecoder(bytes.NewReader(data))
	if err := d.Decode(v); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			field := te.Field
			if field == "" {
				field = "the document"
			}
			return fmt.Errorf("%s is a JSON %s, which does not fit", field, te.Value)
		}
		return fmt.Errorf("not a JSON object: %w", err)
	}
	if _, err := d.Token(); err != io.EOF {
		return errors.New("more than one JSON value")
	}
	return nil
}
