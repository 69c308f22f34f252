from bot import identifiers as ids


def found(text):
    return [(f.entity, f.value) for f in ids.find_identifiers(text, ids.DEFAULT_ORDER_NUMBER_PATTERN)]


def test_order_numbers_in_every_shape_the_shops_use():
    assert found("where is A10023?") == [("order_number", "A10023")]
    assert found("order #1001 please") == [("order_number", "#1001")]
    assert found("my PO-88812 never came") == [("order_number", "PO-88812")]
    assert found("123456789") == [("order_number", "123456789")]


def test_identifiers_are_found_inside_chinese_sentences():
    assert found("订单号123456789还没到") == [("order_number", "123456789")]
    assert found("我的邮箱是wang.fang@example.com谢谢") == [("email", "wang.fang@example.com")]
    assert found("运单号LP00123456789012怎么查不到") == [("tracking_number", "LP00123456789012")]


def test_email_phone_and_tracking_are_not_mistaken_for_order_numbers():
    assert found("it's ana.souza@example.com") == [("email", "ana.souza@example.com")]
    assert found("call me on +351 912 345 678") == [("phone", "+351 912 345 678")]
    assert found("tracking RR123456789CN") == [("tracking_number", "RR123456789CN")]
    assert found("1Z999AA10123456784") == [("tracking_number", "1Z999AA10123456784")]


def test_the_order_number_pattern_is_a_setting():
    assert ids.find_identifiers("order SO-2026-0042", r"SO-\d{4}-\d{4}")[0].value == "SO-2026-0042"


def test_normalisation_and_masking_for_logs():
    assert ids.normalize_order_number(" #1001") == "1001"
    assert ids.normalize_order_number("a10023") == "A10023"
    assert ids.mask_email("ana.souza@example.com") == "a***@example.com"
    assert "912345678" not in ids.mask_phone("+351912345678")
