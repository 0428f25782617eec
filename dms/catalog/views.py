"""Catalog pages: the product list (HQ's and the distributors' view), product pages and forms, categories, tags.

HQ (catalog.manage) sees every product with its edit actions; everyone else with catalog.view sees
available products only, with the retail price and the distributor price of their own level.
"""

from flask import flash, request, send_file, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import false, select
from wtforms import SelectChoice

from dms.catalog import bp, services
from dms.catalog.forms import (
    FIELD_ALIASES,
    LEVEL_LABELS,
    STATUS_LABELS,
    TRACKING_LABELS,
    CategoryForm,
    ConfirmForm,
    ImageForm,
    ProductForm,
    RenameCategoryForm,
    StatusForm,
)
from dms.catalog.models import STATUSES, TRACKING, Product, Tag, product_tags
from dms.catalog.storage import get_storage, image_url
from dms.core.auth import require_permission
from dms.core.errors import NotFound
from dms.core.forms import form_status, submit
from dms.core.listing import paginate_list
from dms.core.render import htmx_redirect, is_htmx, render
from dms.distributors.models import Distributor
from dms.extensions import db


def _manages() -> bool:
    return current_user.can("catalog.manage")


def _own_level() -> str | None:
    """The level of the current user's distributor (None for HQ staff)."""
    distributor_id = getattr(current_user, "distributor_id", None)
    if distributor_id is None:
        return None
    distributor = db.session.get(Distributor, distributor_id)
    return distributor.level if distributor else None


def _labels() -> dict:
    return {"status_labels": STATUS_LABELS, "tracking_labels": TRACKING_LABELS, "level_labels": LEVEL_LABELS,
            "levels": services.LEVELS, "image_url": image_url}


def _category_choices(empty_label: str) -> list[SelectChoice]:
    """The tree as select options, indented by depth."""
    return [SelectChoice("", empty_label)] + [
        SelectChoice(str(n.category.id), "\u2003" * n.depth + n.category.name) for n in services.category_tree()]


def _by_category(stmt, value):
    if not value.isdigit() or len(value) > 9:
        return stmt.where(false())
    return stmt.where(Product.category_id.in_(services.descendant_ids(int(value))))


def _by_tag(stmt, value):
    return stmt.where(Product.id.in_(select(product_tags.c.product_id).join(Tag, Tag.id == product_tags.c.tag_id)
                                     .where(Tag.name == value)))


@bp.get("/catalog/products")
@require_permission("catalog.view")
def list_products():
    """Products with search (name, SKU), category (with subcategories), tag, status and tracking filters."""
    manages = _manages()
    filters = {"category": _by_category, "tag": _by_tag}
    if manages:
        filters["status"] = lambda s, v: s.where(Product.status == v)
        filters["tracking"] = lambda s, v: s.where(Product.tracking == v)
    page = paginate_list(services.products_query(current_user), search=[Product.name, Product.sku],
                         sorts={"name": Product.name, "sku": Product.sku, "status": Product.status,
                                "created": Product.created_at},
                         default_sort="name", filters=filters)
    level = _own_level()
    prices = {p.id: {"retail": services.current_price(p),
                     "own": services.price_for_distributor(p, level) if level else None} for p in page.items}
    tag_names = list(db.session.scalars(select(Tag.name).order_by(Tag.name)))
    return render("catalog/products.html", "catalog/_products_table.html", page=page, manages=manages,
                  prices=prices, own_level=level,
                  categories=[(str(n.category.id), "\u2003" * n.depth + n.category.name)
                              for n in services.category_tree()],
                  tags=[(t, t) for t in tag_names],
                  statuses=[(s, STATUS_LABELS[s]) for s in STATUSES],
                  trackings=[(t, TRACKING_LABELS[t]) for t in TRACKING], **_labels())


def _detail(product: Product, *, status_form=None, image_form=None, fragment=None):
    """The product's page (or its `fragment` for htmx); a failed form is shown with its errors in place."""
    manages = _manages()
    level = _own_level()
    status_form = status_form or StatusForm(formdata=None, status="unavailable" if product.status == "available"
                                            else "available")
    return render(
        "catalog/product.html", fragment, status=form_status(status_form, image_form, invalid=422), product=product,
        manages=manages, own_level=level, retail=services.current_price(product),
        own_price=services.price_for_distributor(product, level) if level else None,
        distributor_prices=services.distributor_prices(product) if manages else {},
        history=services.price_history(product) if manages else [],
        stock_exists=services.has_stock(product) if manages else False,
        status_form=status_form, image_form=image_form or ImageForm(formdata=None), **_labels())


@bp.get("/catalog/products/<int:product_id>")
@require_permission("catalog.view")
def show_product(product_id: int):
    """A product: details, images, prices (HQ: every level and the history; a distributor: its own)."""
    return _detail(services.get_visible_product(current_user, product_id))


def _form_page(form: ProductForm, product: Product | None):
    """The product form: its own page, or (htmx) the form alone to show inline on the list or product page."""
    response = render("catalog/product_form.html", "catalog/_product_form.html", form=form, product=product,
                      inline=is_htmx(), status=form_status(form, invalid=422), **_labels())
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/catalog/products/new", methods=["GET", "POST"])
@require_permission("catalog.manage")
def create_product():
    """Create a product with its prices; errors and a taken SKU are shown beside the fields."""
    form = ProductForm()
    form.category_id.choices = _category_choices(_("No category"))
    product = submit(form, lambda: services.create_product(current_user, form.data_for_service()), FIELD_ALIASES)
    if product:
        flash(_("Product %(name)s created.", name=product.name), "success")
        return htmx_redirect(url_for("catalog.show_product", product_id=product.id))
    return _form_page(form, None)


def _fill(form: ProductForm, product: Product) -> None:
    """Put the product's fields and prices in force into a fresh form."""
    form.category_id.data = str(product.category_id or "")
    form.tags.data = ", ".join(t.name for t in product.tags)
    form.low_stock_threshold.data = str(product.low_stock_threshold)
    retail = services.current_price(product)
    form.price.data = "" if retail is None else f"{retail:.2f}"
    for level, amount in services.distributor_prices(product).items():
        getattr(form, f"price_{level}").data = f"{amount:.2f}"


@bp.route("/catalog/products/<int:product_id>/edit", methods=["GET", "POST"])
@require_permission("catalog.manage")
def edit_product(product_id: int):
    """Edit a product; a changed price is appended to its history, an empty one keeps the price in force."""
    product = services.get_product(product_id)
    if request.method == "GET":
        form = ProductForm(formdata=None, obj=product)
        _fill(form, product)
    else:
        form = ProductForm()
    form.category_id.choices = _category_choices(_("No category"))
    if submit(form, lambda: services.update_product(current_user, product, form.data_for_service()), FIELD_ALIASES):
        flash(_("Changes saved."), "success")
        return htmx_redirect(url_for("catalog.show_product", product_id=product.id))
    return _form_page(form, product)


@bp.post("/catalog/products/<int:product_id>/status")
@require_permission("catalog.manage")
def set_product_status(product_id: int):
    """Make a product available or unavailable (a pending one needs a retail price first)."""
    product = services.get_product(product_id)
    form = StatusForm()
    if submit(form, lambda: services.set_status(current_user, product, form.status.data)):
        flash(_("Status changed."), "success")
        return htmx_redirect(url_for("catalog.show_product", product_id=product.id))
    return _detail(product, status_form=form)


@bp.post("/catalog/products/<int:product_id>/images")
@require_permission("catalog.manage")
def upload_image(product_id: int):
    """Add an uploaded image, checked by its content and size."""
    product = services.get_product(product_id)
    form = ImageForm()
    if submit(form, lambda: services.add_image(current_user, product, form.image.data)):
        if is_htmx():  # the images panel swaps in place, showing the new image at once
            db.session.refresh(product)
            return _detail(product, fragment="catalog/_images.html")
        flash(_("Image added."), "success")
        return htmx_redirect(url_for("catalog.show_product", product_id=product.id, _anchor="images"))
    return _detail(product, image_form=form, fragment="catalog/_images.html")


@bp.post("/catalog/products/<int:product_id>/images/<int:image_id>/delete")
@require_permission("catalog.manage")
def delete_image(product_id: int, image_id: int):
    """Remove one of the product's images (confirmed in the browser)."""
    product = services.get_product(product_id)
    form = ConfirmForm()
    if submit(form, lambda: services.remove_image(current_user, product, image_id)):
        flash(_("Image removed."), "success")
    return htmx_redirect(url_for("catalog.show_product", product_id=product.id, _anchor="images"))


@bp.get("/catalog/images/<int:image_id>")
@require_permission("catalog.view")
def product_image(image_id: int):
    """The stored image with its content type (only of products the user may see)."""
    image = services.get_image(image_id)
    services.get_visible_product(current_user, image.product_id)
    try:
        stream = get_storage().open(image.storage_key)
    except FileNotFoundError:
        raise NotFound() from None
    response = send_file(stream, mimetype=image.content_type, max_age=3600, conditional=False)
    response.headers["Cache-Control"] = "private, max-age=3600"
    return response


# ---------------------------------------------------------------- categories and tags

def _categories_page(form=None, rename_form=None, rename_id=None, status=None):
    """The category tree with its forms; a failed form is shown with its errors in place."""
    form = form or CategoryForm(formdata=None)
    form.parent_id.choices = _category_choices(_("None (top level)"))
    counts = dict(db.session.execute(select(Product.category_id, db.func.count(Product.id))
                                     .group_by(Product.category_id)).all())
    tree = services.category_tree()
    parents = {n.category.parent_id for n in tree}
    return render("catalog/categories.html", "catalog/_categories_tree.html",
                  status=status or form_status(form, rename_form, invalid=422),
                  tree=tree, counts=counts, parents=parents, form=form,
                  rename_form=rename_form or RenameCategoryForm(formdata=None), rename_id=rename_id,
                  manages=_manages())


@bp.get("/catalog/categories")
@require_permission("catalog.view")
def list_categories():
    """The category tree with product counts; HQ adds, renames and deletes categories here."""
    return _categories_page()


@bp.post("/catalog/categories")
@require_permission("catalog.manage")
def create_category():
    """Add a category (under a parent, or at the top level)."""
    form = CategoryForm()
    form.parent_id.choices = _category_choices(_("None (top level)"))
    category = submit(form, lambda: services.create_category(current_user, form.name.data,
                                                             form.parent_id.data or None))
    if category:
        flash(_("Category %(name)s added.", name=category.name), "success")
        return htmx_redirect(url_for("catalog.list_categories"))
    return _categories_page(form=form)


@bp.post("/catalog/categories/<int:category_id>/rename")
@require_permission("catalog.manage")
def rename_category(category_id: int):
    """Rename a category."""
    form = RenameCategoryForm()
    if submit(form, lambda: services.rename_category(current_user, category_id, form.name.data)):
        flash(_("Category renamed."), "success")
        return htmx_redirect(url_for("catalog.list_categories"))
    return _categories_page(rename_form=form, rename_id=category_id)


@bp.post("/catalog/categories/<int:category_id>/delete")
@require_permission("catalog.manage")
def delete_category(category_id: int):
    """Delete an empty category (confirmed in the browser); one with subcategories or products is refused."""
    form = ConfirmForm()
    if submit(form, lambda: services.delete_category(current_user, category_id)):
        flash(_("Category deleted."), "success")
        return htmx_redirect(url_for("catalog.list_categories"))
    for message in form.form_errors:
        flash(message, "error")
    return _categories_page(status=form_status(form, invalid=422))


@bp.get("/catalog/tags")
@require_permission("catalog.manage")
def list_tags():
    """Every tag with its number of products."""
    return render("catalog/tags.html", tags=services.tags_with_counts())
