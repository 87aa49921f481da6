"""The general shapes customers write in, routed by the shipped catalog (our own sentences,
English and Russian): requests, price questions, negations, cancellations, delivery problems,
and typo-corrections that never turn one real word into another."""

from __future__ import annotations

import pytest

from handlers.catalog import Catalog

MATCHER = Catalog.load().matcher


def routed(text: str) -> tuple[str, str]:
    match = MATCHER.match(text)
    return match.route, match.intent


# --- a request: want / need / looking for + a quantity and/or a product -------------------


@pytest.mark.parametrize(
    "text",
    [
        "need 15 standing desks",
        "We need twelve monitors for the design team",
        "looking for a laser printer for a small office",
        "I'd like 4 projectors",
        "we would like several conference speakerphones",
        "interested in 30 tablets for a school",
        "Hi, we want 2 coffee machines",
        "I am looking for ergonomic chairs",
        "we're in need of 40 headsets",
        "нужно 6 мониторов Dell",
        "Нужны 3 сервера HP ProLiant DL380",
        "ищу проектор для переговорной",
        "ищем поставщика офисных кресел",
        "хотим 25 планшетов Samsung",
        "Хотел бы 2 кофемашины в офис",
        "интересуют ноутбуки Lenovo ThinkPad, штук десять",
        "Здравствуйте, нужен МФУ Kyocera",
        "нам надо пару принтеров",
    ],
)
def test_a_request_for_a_quantity_or_a_product_is_a_lead(text: str) -> None:
    assert routed(text)[0] == "lead"


# --- price questions ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "how much?",
        "How much for 10 of them?",
        "what would 50 licences cost",
        "price of the annual plan",
        "could you send a quote for 8 routers",
        "сколько?",
        "Сколько стоит доставка 20 стульев?",
        "почём планшеты?",
        "цена на 40 лицензий",
        "какая стоимость подписки на год",
        "а сколько за штуку?",
    ],
)
def test_a_price_question_is_a_lead(text: str) -> None:
    assert routed(text)[0] == "lead"


# --- negations cancel what they cover -------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "I don't want to buy anything, just looking around",
        "not interested in buying, thanks",
        "We do not need a quote right now",
        "no need to call me",
        "я ничего не хочу покупать, просто смотрю",
        "нам не нужно коммерческое предложение",
        "не надо мне звонить",
    ],
)
def test_a_negated_purchase_is_not_a_lead(text: str) -> None:
    assert routed(text)[0] != "lead"


@pytest.mark.parametrize(
    "text",
    [
        "I do not want to talk to a person",
        "no need for a human, thanks",
        "я не хочу говорить с человеком",
        "оператора не надо",
    ],
)
def test_a_negated_request_for_a_person_is_no_hand_off(text: str) -> None:
    assert routed(text)[0] != "human"


@pytest.mark.parametrize(
    ("text", "route"),
    [
        ("my card doesn't work", "service"),
        ("the parcel has not arrived", "service"),
        ("I don't want a bot, let me talk to a person", "human"),
        ("не хочу ждать, соедините с оператором", "human"),
        ("заказ не пришёл", "service"),
        ("I don't need a call, just send me the prices", "lead"),
    ],
)
def test_a_negation_leaves_what_it_does_not_cover(text: str, route: str) -> None:
    assert routed(text)[0] == route


# --- cancellations and delivery problems are service requests -------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "cancel my order",
        "Please cancel order 55120",
        "I want to cancel my purchase",
        "отмените мой заказ",
        "прошу отменить заказ 55120",
        "хочу отменить заказ",
    ],
)
def test_cancelling_an_order_is_a_service_request_not_a_status(text: str) -> None:
    assert routed(text) == ("service", "service.order")


@pytest.mark.parametrize(
    "text",
    [
        "my parcel arrived damaged",
        "the package was lost in transit",
        "my order is late again",
        "you sent me the wrong item",
        "the box came with a broken lamp",
        "посылка пришла повреждённой",
        "курьер потерял мою посылку",
        "заказ опаздывает уже на неделю",
        "прислали не тот товар",
        "в заказе не хватает двух позиций",
    ],
)
def test_damaged_lost_late_or_wrong_items_are_a_delivery_problem(text: str) -> None:
    assert routed(text) == ("service", "service.delivery")


# --- typo-corrections never map a real word to another --------------------------------------


def test_a_real_word_is_never_read_as_a_typo_of_another() -> None:
    match = MATCHER.match("our support contract renewal date", "en")
    assert "contact" not in match.matched.split(" + ")
    assert "support" not in match.matched or match.route != "human"


def test_a_misspelt_word_still_matches() -> None:
    match = MATCHER.match("I need a refnud", "en")
    assert (match.route, match.matched) == ("service", "need + refund")


# --- refusing the bot asks for a person; tiredness of it escalates ------------------------


@pytest.mark.parametrize(
    "text",
    [
        "I do not want to deal with a robot",
        "don't need a chatbot, I need answers from your staff",
        "not with the bot please",
        "I'd rather not chat with automated stuff",
        "fed up with this bot",
        "the bot does not understand my question",
        "не нужен мне бот",
        "не хочу переписываться с роботом",
        "надоел этот бот",
        "ваш бот ничего не понимает",
    ],
)
def test_refusing_the_bot_is_a_request_for_a_person(text: str) -> None:
    assert routed(text)[0] == "human"


@pytest.mark.parametrize(
    "text",
    [
        "the vending machine does not work",
        "программа не запускается",
        "не работает кофейный автомат",
    ],
)
def test_a_machine_or_a_program_that_fails_is_no_bot(text: str) -> None:
    assert routed(text)[0] == "service"


# --- quantities, prices per unit, switching over, samples are leads -----------------------


@pytest.mark.parametrize(
    "text",
    [
        "No fixed budget yet, ideally delivered by mid-April",
        "we'd prefer a fixed price for the whole project",
        "need 80 folding tables, how long would delivery take?",
        "what discount if we buy 500?",
        "what's your rate per piece for 2000 flyers",
        "we are thinking of migrating to your system from our old one",
        "could we get samples of the fabric first",
        "хотим 12 раций для охраны, когда сможете привезти?",
        "во сколько обойдутся 300 пропусков",
        "сколько будет стоить, если закажем 50 штук",
        "думаем перейти на ваш сервис",
        "пришлите образцы плитки",
    ],
)
def test_quantities_prices_and_switching_over_are_leads(text: str) -> None:
    assert routed(text)[0] == "lead"


# --- what an existing customer has: a placed order, a booked visit, a return, a fix --------


@pytest.mark.parametrize(
    "text",
    [
        "the leak is still not fixed after two visits",
        "please move the fitting appointment to friday",
        "can we postpone the delivery by a week",
        "I want to return the lamp I bought last month",
        "I'd like to change the order I submitted yesterday",
        "the activation code is invalid",
        "the box arrived with no screws",
        "нельзя ли перенести замер на среду",
        "хочу сдать обратно пылесос, купленный в мае",
        "в наших счетах старый КПП",
        "из-под холодильника течет вода",
        "в коробке нет пульта",
    ],
)
def test_what_an_existing_customer_has_is_service(text: str) -> None:
    assert routed(text)[0] == "service"


def test_a_real_word_is_never_read_as_another_with_a_letter_squeezed() -> None:
    assert "too" not in MATCHER.match("before we commit to a big order", "en").matched
    assert MATCHER.match("the jacket is too big", "en").route == "service"
    assert MATCHER.match("heyyy", "en").intent == "other.greeting"


def test_est_is_there_is_not_to_eat() -> None:
    """The dictionary reads "есть" first as the verb "to eat", after which no word is a thing."""
    assert MATCHER.match("есть игровые кресла?", "ru").route == "lead"


# --- out of scope, however much it sounds like buying ------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "how much is 15 percent of 240",
        "how much is 300 divided by 7",
        "сколько будет 17 умножить на 23",
        "set a reminder for 6pm",
        "поставь будильник на 7 утра",
        "CONGRATULATIONS! You've won a $1000 gift card, click the link",
        "ВЫ ВЫИГРАЛИ iPhone 15! Переходите по ссылке",
        "I'm a student writing a thesis on sales automation, may I ask a few questions?",
        "Я студентка, пишу диплом про автоматизацию продаж, можно задать пару вопросов?",
        "у вас есть стажировки для студентов?",
    ],
)
def test_sums_assistant_commands_prizes_and_studies_are_out_of_scope(text: str) -> None:
    assert routed(text)[0] == "other"


@pytest.mark.parametrize(
    "text",
    [
        "we provide catering services and need 40 chairs for an event",
        "we offer IT services to clients and want to buy 10 laptops",
        "мы оказываем услуги клининга, нужно закупить 20 пылесосов",
        "how much are 20 chairs plus delivery",
        "we need 20 chairs plus 5 tables",
        "нужно 20 стульев плюс 5 столов",
        "скидка 10 процентов на 50 кресел возможна?",
        "we want to switch our phone provider to you, 40 lines",
        "сколько будет стоить 20 стульев плюс доставка",
        "реально ли сделать стол под размер, 180х90?",
        "Is it possible to have a reception counter made to measure?",
    ],
)
def test_a_prospect_describing_their_business_or_a_sum_of_goods_is_a_lead(text: str) -> None:
    assert routed(text)[0] == "lead"


@pytest.mark.parametrize(
    "text",
    [
        "зови человека",
        "пригласите в чат сотрудника",
        "давайте уже человека",
        "пусть мне ответит сотрудник",
        "кто-то из администрации может ответить?",
        "у вас вообще люди работают?",
        "Я уже 20 минут пытаюсь объяснить боту. Где люди?",
        "could you hand this chat over to one of your team members?",
        "somebody from your company please",
    ],
)
def test_calling_a_person_in_any_words_is_a_request_for_one(text: str) -> None:
    assert routed(text)[0] == "human"


@pytest.mark.parametrize(
    "text",
    [
        "flyers arrived with a typo, we need a reprint",
        "привезли кресло с поломанным подлокотником, что делать?",
        "обед на 30 персон привезли на час позже, требую компенсацию",
        "пришла пачка на 50 ручек вместо 500",
        "вы мне не ту модель прислали",
        "remind me what my order number is",
        "напомни мне номер заказа",
        "Need to change the email on file to j.smith@newco.com",
        "need to move tomorrow's drop-off to Friday",
        "мастер должен был приехать вчера, никого не было",
        "где сотрудник, который должен был приехать на замер?",
    ],
)
def test_what_went_wrong_with_a_delivery_or_an_account_is_service(text: str) -> None:
    assert routed(text)[0] == "service"
