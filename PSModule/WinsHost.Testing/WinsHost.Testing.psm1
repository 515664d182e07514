#Requires -Version 5.1
Set-StrictMode -Version 2.0

# Test brokers started in this session, newest last: Stop-WinsHostTestBroker without -TestBroker stops them
# newest first, so each one restores the $env:WINSHOST_PIPE that was current when it started.
$script:WinsHostTestBrokers = New-Object System.Collections.ArrayList

# How long Start-WinsHostTestBroker waits for the broker to listen, and Stop for it to exit after SIGTERM.
$script:WinsHostTestStartTimeoutSec = 30
$script:WinsHostTestStopTimeoutSec = 10

foreach ($folder in @('Private', 'Public')) {
    $folderPath = Join-Path -Path $PSScriptRoot -ChildPath $folder
    foreach ($file in @(Get-ChildItem -LiteralPath $folderPath -Filter '*.ps1' -File | Sort-Object -Property Name)) {
        . $file.FullName
    }
}

# A broker left running by a suite that failed before its AfterAll would keep its socket and temp dir.
$MyInvocation.MyCommand.ScriptBlock.Module.OnRemove = {
    foreach ($broker in @($script:WinsHostTestBrokers.ToArray())) {
        Stop-WinsHostTestBroker -TestBroker $broker -ErrorAction SilentlyContinue
    }
}
