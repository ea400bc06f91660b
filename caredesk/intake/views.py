from __future__ import annotations

import uuid
from pathlib import Path

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _

from .actions import import_visits, save_column_mapping
from .forms import ColumnMappingForm, VisitUploadForm
from .models import ImportRun
from .visit_file import STANDARD_HEADERS

IMPORT_PERMISSION = "intake.add_importrun"


@login_required
def home(request: HttpRequest) -> HttpResponse:
    can_import = request.user.has_perm(IMPORT_PERMISSION)
    runs = ImportRun.objects.select_related("started_by").order_by("-id")[:20] if can_import else []
    return render(request, "intake/home.html", {"runs": runs, "can_import": can_import})


def _upload_dir() -> Path:
    directory = Path(settings.MEDIA_ROOT) / "imports" / uuid.uuid4().hex
    directory.mkdir(parents=True, exist_ok=True)
    return directory


@login_required
@permission_required(IMPORT_PERMISSION, raise_exception=True)
def import_upload(request: HttpRequest) -> HttpResponse:
    form = VisitUploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        suffix = Path(upload.name).suffix.lower()
        target = _upload_dir() / f"upload{suffix}"
        with target.open("wb") as fh:
            for chunk in upload.chunks():
                fh.write(chunk)
        run = import_visits(target, source_system=form.cleaned_data["source_system"], mapping=form.cleaned_data["mapping"],
                            acting_user=request.user, file_name=Path(upload.name).name[:255])
        return redirect("intake:import_run", run_id=run.pk)
    return render(request, "intake/import.html", {"form": form, "standard_headers": STANDARD_HEADERS})


@login_required
@permission_required(IMPORT_PERMISSION, raise_exception=True)
def import_run(request: HttpRequest, run_id: int) -> HttpResponse:
    run = get_object_or_404(ImportRun.objects.select_related("started_by", "mapping"), pk=run_id)
    rejects = Paginator(run.rejects.order_by("line", "id"), 200).get_page(request.GET.get("page"))
    return render(request, "intake/import_run.html", {"run": run, "rejects": rejects})


@login_required
@permission_required(IMPORT_PERMISSION, raise_exception=True)
def import_rejects_csv(request: HttpRequest, run_id: int) -> FileResponse:
    """The rejects file holds the rows' values (patient data): only importers get it, by run id."""
    run = get_object_or_404(ImportRun, pk=run_id)
    path = Path(run.rejects_path) if run.rejects_path else None
    if path is None or not path.is_file():
        raise Http404(_("没有拒绝行文件"))
    stem = Path(run.file_name).stem or "import"
    return FileResponse(path.open("rb"), as_attachment=True, filename=f"{stem}.rejects.csv", content_type="text/csv")


@login_required
@permission_required(IMPORT_PERMISSION, raise_exception=True)
def mapping_new(request: HttpRequest) -> HttpResponse:
    form = ColumnMappingForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        mapping = save_column_mapping(name=form.cleaned_data["name"], columns=form.cleaned_data["columns"],
                                      acting_user=request.user)
        messages.success(request, _("列映射“%(name)s”已保存。") % {"name": mapping.name})
        return redirect("intake:import")
    return render(request, "intake/mapping_form.html", {"form": form})
