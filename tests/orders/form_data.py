"""What the order form posts: a new customer's fields and numbered line inputs."""


def customer_form(**changes) -> dict:
    """A new customer in 番禺区 as the form's fields (the region picker's three selects), with `changes`."""
    data = {"name": "张三", "phone": "13800138000", "region_code__province": "440000",
            "region_code__city": "440100", "region_code__county": "440113", "street": "市桥街", "address": "1号"}
    data.update(changes)
    return data


def lines_form(*lines) -> dict:
    """Line dicts as the form's `lines-<n>-<field>` inputs."""
    data = {}
    for n, line in enumerate(lines):
        for key, value in line.items():
            data[f"lines-{n}-{key}"] = value
    return data
