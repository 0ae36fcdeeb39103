"""文化遗产: the relics register and the chip sensors' readings, standardized.

The register is kept by hand: a site stays even when its level or address is missing, and
its coordinates stay as typed until there is a normalizer for them. A chip reading is only
worth something with the chip and the time it was taken; whether the chip is one the
register lists, and whether a value is a sensor glitch, are checked on the table later.
"""

import polars as pl

from warehouse.standardize import Field, TableSpec

# 不可移动文物 categories (第三次全国文物普查): six, fixed nationally.
CATEGORIES = ("古遗址", "古墓葬", "古建筑", "石窟寺及石刻", "近现代重要史迹及代表性建筑", "其他")
# 保护级别 as the register writes them: 全国重点(文物保护单位), 省级, 市级, 县级, and
# 未定级 for 尚未核定公布为文物保护单位的不可移动文物.
PROTECTION_LEVELS = ("全国重点", "省级", "市级", "县级", "未定级")
ADDRESS_PARTS = {"street": "street", "community": "community", "road": "road", "road_number": "road_number",
                 "address_key": "address_key"}
DATETIME_ISSUES = ("datetime.unparseable", "datetime.not_a_calendar_date", "datetime.bad_time",
                   "datetime.out_of_range", "datetime.missing_time")
READING = {"dtype": pl.Float64}

TABLES = [
    TableSpec(
        source="heritage",
        dataset="heritage_site",
        description="不可移动文物登记：名称、年代、类别、保护级别、地址、经纬度、芯片编号、登记日期",
        key=("site_name",),
        fields=(
            Field("serial_no", "序号", "number", label="序号"),
            Field("site_name", "文物名称", required=True, label="文物名称"),
            Field("era", "年代", label="年代"),
            Field("category", "类别", "code", options={"allowed": CATEGORIES}, label="类别"),
            Field("protection_level", "保护级别", "code", options={"allowed": PROTECTION_LEVELS}, label="保护级别"),
            Field("address", "地址", "address", keep=ADDRESS_PARTS, label="地址"),
            # 'lon,lat' as typed (full-width comma, 度分秒 or swapped at times): no normalizer yet.
            Field("coordinates", "经纬度", label="经纬度"),
            Field("chip_id", "芯片编号", label="芯片编号"),
            Field("registered_on", "登记日期", "date", label="登记日期"),
        ),
    ),
    TableSpec(
        source="heritage",
        dataset="chip_reading",
        description="文物监测芯片读数：芯片编号、读数时间、温度、湿度、倾斜角、电量",
        key=("chip_id", "read_at"),
        timestamp="read_at",
        fields=(
            Field("chip_id", "芯片编号", required=True, label="芯片编号"),
            Field("read_at", "读数时间", "datetime", required=True, quarantine_on=DATETIME_ISSUES, label="读数时间"),
            Field("temperature_c", "温度", "number", options=READING, label="温度"),
            Field("humidity_pct", "湿度", "number", options=READING, label="湿度"),
            Field("tilt_deg", "倾斜角", "number", options=READING, label="倾斜角"),
            Field("battery_pct", "电量", "number", options=READING, label="电量"),
        ),
    ),
]
