"""A Flask app for the tests (run under gunicorn; gunicorn_conf.py starts an agent in each worker when asked)."""
import flask
import hot_work

app = flask.Flask(__name__)


@app.route("/hot")
def hot():
    return "spun %d\n" % hot_work.burn()


@app.route("/hello")
def hello():
    name = flask.request.args.get("name", "world")
    return greet(name)


def greet(name):
    # reads the request context: a replay outside it fails unless the context is restored
    return "hello %s from %s\n" % (name, flask.request.path)


@app.route("/answer")
def answer():
    return hot_work.answer() + "\n"
