pytest_plugins = ["tencentcloud_emulator.pytest_plugin"]
