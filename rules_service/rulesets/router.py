"""HTTP of rulesets (SPEC §3): upload, history, download, export, diff, approve, publish,
rollback. Thin: parsing and shaping here, the rules in `service`."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, Path, Query, Request, Response
from fastapi.responses import JSONResponse

from rules_service.deps import SessionDep
from rules_service.rulesets import backtest, service, views
from rules_service.rulesets.schemas import (
    ApproveIn,
    BacktestIn,
    BacktestOut,
    DiffOut,
    PublicationEventOut,
    PublicationOut,
    PublishIn,
    RulesetOut,
    VersionOut,
    VersionSummary,
)
from runbook.auth import Principal, require
from runbook.params import INT_MAX, NO_NUL

router = APIRouter(prefix="/v1/rulesets", tags=["rulesets"])

READ_ROLES = ("ops", "approver", "auditor")
Reader = Annotated[Principal, Depends(require(*READ_ROLES))]
Ops = Annotated[Principal, Depends(require("ops"))]
Approver = Annotated[Principal, Depends(require("approver"))]
Name = Annotated[str, Path(description="Ruleset name", max_length=100,
                                   pattern=NO_NUL)]
VersionNo = Annotated[int, Path(ge=1, le=INT_MAX, description="Version number")]

_UPLOAD_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": "The workbook: .xlsx, a one-table CSV, or the normalized JSON form.",
        "content": {
            media: {"schema": {"type": "string", "format": "binary"}}
            for media in service.CONTENT_TYPES
        },
    }
}


async def raw_body(request: Request) -> bytes:
    return await request.body()


@router.put("/{name}", response_model=VersionOut, status_code=201, openapi_extra=_UPLOAD_BODY,
            responses={200: {"model": VersionOut, "description": "These bytes were uploaded "
                             "before: the existing version"}})
def upload_version(
    name: Name,
    session: SessionDep,
    principal: Ops,
    request: Request,
    content_type: Annotated[str | None, Header()] = None,
    body: bytes = Depends(raw_body),
) -> Any:
    """A new immutable draft version (201), or the existing one for the same bytes (200)."""
    service.media_type(content_type)
    result = service.upload(session=session, name=name, content=body,
                            content_type=content_type or "", author=principal,
                            notifier=request.app.state.version_notifier)
    out = views.version_out(session, result.version)
    location = f"/v1/rulesets/{name}/versions/{result.version.version}"
    return JSONResponse(out.model_dump(mode="json"), status_code=201 if result.created else 200,
                        headers={"Location": location})


@router.get("", response_model=list[RulesetOut])
def list_rulesets(session: SessionDep, _: Reader) -> list[RulesetOut]:
    return [views.ruleset_out(row, latest) for row, latest in
            service.list_rulesets(session=session)]


@router.get("/{name}", response_model=RulesetOut)
def get_ruleset(name: Name, session: SessionDep, _: Reader) -> RulesetOut:
    row = service.get_ruleset(session=session, name=name)
    versions = service.list_versions(session=session, name=name)
    return views.ruleset_out(row, versions[0].version if versions else None)


@router.get("/{name}/publications", response_model=list[PublicationEventOut])
def list_publications(name: Name, session: SessionDep, _: Reader) -> list[PublicationEventOut]:
    """Every publish and rollback of the ruleset, oldest first."""
    return [PublicationEventOut.model_validate(row)
            for row in service.publications(session=session, ruleset=name)]


@router.get("/{name}/versions", response_model=list[VersionSummary])
def list_versions(name: Name, session: SessionDep, _: Reader) -> list[VersionSummary]:
    """History, newest first."""
    return views.summaries(session, name, service.list_versions(session=session, name=name))


@router.get("/{name}/versions/{version}", response_model=VersionOut)
def get_version(name: Name, version: VersionNo, session: SessionDep, _: Reader) -> VersionOut:
    return views.version_out(session, service.get_version(session=session, name=name,
                                                          version=version))


@router.get("/{name}/versions/{version}/workbook", response_class=Response,
            responses={200: {"description": "The exact bytes uploaded"}})
def download_workbook(name: Name, version: VersionNo, session: SessionDep, _: Reader) -> Response:
    row = service.get_version(session=session, name=name, version=version)
    filename = f"{name}-v{version}{service.extension(row.content_type)}"
    return Response(
        content=row.content,
        media_type=row.content_type,
        headers={"X-Content-SHA256": row.sha256,
                 "Content-Disposition": f'attachment; filename="{filename}"'},
    )


@router.get("/{name}/versions/{version}/export", response_class=Response,
            responses={200: {"description": "The normalized .xlsx (or JSON)"}})
def export_version(
    name: Name, version: VersionNo, session: SessionDep, _: Reader,
    format: Annotated[Literal["xlsx", "json"], Query()] = "xlsx",
) -> Response:
    exported = service.export(session=session, ruleset=name, version=version, fmt=format)
    return Response(
        content=exported.content,
        media_type=exported.media_type,
        headers={"X-Content-SHA256": exported.sha256,
                 "Content-Disposition": f'attachment; filename="{exported.filename}"'},
    )


@router.get("/{name}/diff", response_model=DiffOut)
def diff_versions(
    name: Name, session: SessionDep, _: Reader,
    from_version: Annotated[int, Query(alias="from", ge=1, le=INT_MAX)],
    to_version: Annotated[int, Query(alias="to", ge=1, le=INT_MAX)],
) -> DiffOut:
    changes = service.diff(session=session, ruleset=name, from_version=from_version,
                           to_version=to_version)
    return DiffOut(ruleset=name, from_version=from_version, to_version=to_version, diff=changes)


@router.post("/{name}/versions/{version}/backtest", response_model=BacktestOut)
def backtest_version(
    name: Name, version: VersionNo, session: SessionDep, _: Reader,
    body: BacktestIn | None = None,
) -> BacktestOut:
    """Replays the latest captured runs: how many decisions this version would change."""
    result = backtest.backtest(session=session, ruleset=name, version=version,
                               last=body.last if body else 1000)
    return BacktestOut(**result.to_dict())


@router.post("/{name}/versions/{version}/approve", response_model=VersionOut)
def approve_version(
    name: Name, version: VersionNo, session: SessionDep, principal: Approver, request: Request,
    body: ApproveIn | None = None,
) -> VersionOut:
    service.approve(session=session, ruleset=name, version=version, approver=principal,
                    comment=body.comment if body else None,
                    notifier=request.app.state.version_notifier)
    return views.version_out(session, service.get_version(session=session, name=name,
                                                          version=version))


@router.post("/{name}/versions/{version}/publish", response_model=PublicationOut)
def publish_version(
    name: Name, version: VersionNo, body: PublishIn, session: SessionDep, principal: Ops,
    request: Request,
) -> PublicationOut:
    ruleset = service.publish(session=session, ruleset=name, version=version,
                              percent=body.percent, actor=principal.actor,
                              notifier=request.app.state.version_notifier)
    return _publication(session, ruleset.name, version)


@router.post("/{name}/rollback", response_model=PublicationOut)
def rollback_ruleset(name: Name, session: SessionDep, principal: Ops,
                     request: Request) -> PublicationOut:
    """The previous live version takes all traffic at once."""
    ruleset = service.rollback(session=session, ruleset=name, actor=principal.actor,
                               notifier=request.app.state.version_notifier)
    return _publication(session, ruleset.name, ruleset.current_version or 0)


def _publication(session: Any, name: str, version: int) -> PublicationOut:
    row = service.get_ruleset(session=session, name=name)
    state = service.state_of(row)
    summary = views.summaries(session, name, [service.get_version(session=session, name=name,
                                                                  version=version)])[0]
    return PublicationOut(ruleset=name, current_version=state.current,
                          current_percent=state.percent, previous_version=state.previous,
                          version=summary)
