"""Projects and permits: application, review workflow, machine-enforced permits, expiry and
closure, calls for projects, the public register."""

from havre.governance.projects.actions import (
    CallAction,
    PermitAction,
    ProjectAction,
    RegisterAction,
    RiskAction,
)
from havre.governance.projects.application import (
    PROHIBITED_PURPOSES,
    Application,
    LegalRouteKind,
    SensitiveAttribute,
    load_application_file,
    parse_application,
)
from havre.governance.projects.catalog import CatalogVersion, CatalogView, LakeCatalog
from havre.governance.projects.closure import workspace_key_name
from havre.governance.projects.permit import (
    AccessLevel,
    DatePolicy,
    IdentifierKind,
    Period,
    Permit,
    PermitStatus,
    Population,
    RiskFigures,
    RowFilter,
    Sex,
    TableGrant,
    VersionPolicy,
)
from havre.governance.projects.permits import Permits
from havre.governance.projects.register import RegisterEntry, RegisterFormat
from havre.governance.projects.review import Decision, Opinion
from havre.governance.projects.risk import (
    PermitDraft,
    RiskAssessor,
    RiskRecord,
    RiskRequest,
    RiskResult,
    RiskTrigger,
    load_permit_draft,
    parse_permit_draft,
    terms_sha256,
)
from havre.governance.projects.service import ProjectService
from havre.governance.projects.views import CallView, ProjectSummary, ProjectView
from havre.governance.projects.workflow import ProjectStatus, ReviewStatus, Step

__all__ = [
    "PROHIBITED_PURPOSES",
    "AccessLevel",
    "Application",
    "CallAction",
    "CallView",
    "CatalogVersion",
    "CatalogView",
    "DatePolicy",
    "Decision",
    "IdentifierKind",
    "LakeCatalog",
    "LegalRouteKind",
    "Opinion",
    "Period",
    "Permit",
    "PermitAction",
    "PermitDraft",
    "PermitStatus",
    "Permits",
    "Population",
    "ProjectAction",
    "ProjectService",
    "ProjectStatus",
    "ProjectSummary",
    "ProjectView",
    "RegisterAction",
    "RegisterEntry",
    "RegisterFormat",
    "ReviewStatus",
    "RiskAction",
    "RiskAssessor",
    "RiskFigures",
    "RiskRecord",
    "RiskRequest",
    "RiskResult",
    "RiskTrigger",
    "RowFilter",
    "SensitiveAttribute",
    "Sex",
    "Step",
    "TableGrant",
    "VersionPolicy",
    "load_application_file",
    "load_permit_draft",
    "parse_application",
    "parse_permit_draft",
    "terms_sha256",
    "workspace_key_name",
]
