"""Console accounts from the command line; the first admin is created here (there is no default).

    python -m console.admin create <name> [--role admin|trainer|staff]

The password is asked twice on a terminal, or read from the first line of
standard input when it is not one (scripts, tests): never from the command
line, where it would land in the shell history and the process list.
"""
from __future__ import annotations

import argparse
import getpass
import sys

from console import auth, db


def read_password() -> str:
    if not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass("密码（至少 %d 个字符）：" % auth.MIN_PASSWORD)
    if getpass.getpass("再输入一次：") != first:
        raise auth.AccountError("两次输入的密码不一致")
    return first


def main(argv: list | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m console.admin", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    create = commands.add_parser("create", help="create an account")
    create.add_argument("name")
    create.add_argument("--role", default="admin", choices=auth.ROLES)
    commands.add_parser("list", help="list accounts")
    args = parser.parse_args(argv)
    engine = db.init(db.tracker_url())
    try:
        if args.command == "create":
            user = auth.create_user(engine, args.name, args.role, read_password())
            print(f"已创建用户 {user.name}（{user.role}）")
        else:
            for row in auth.list_users(engine):
                print(f"{row.name}\t{row.role}\t{'已停用' if row.disabled else '正常'}")
    except auth.AccountError as refused:
        print(f"未完成：{refused}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
